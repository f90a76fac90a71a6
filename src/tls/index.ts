export { formatDN, formatName } from './dn.js';
export { identityFromDer, type PeerIdentity } from './identity.js';
export { IdentityCache } from './identity-cache.js';
export { loadTlsMaterial, CIPHERS, type TlsMaterial } from './context.js';
export { verifyFailureReason, handshakeErrorReason, handshakeAbortReason } from './handshake-reason.js';
export { chainViolation, type ChainViolation } from './chain-policy.js';
export { MaterialWatcher } from './reload.js';
export { ecdhCurveOption, negotiatedGroup } from './groups.js';
export { PeerRecheck, type RecheckFailure } from './peer-recheck.js';
