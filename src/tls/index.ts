export { formatDN, formatName } from './dn.js';
export { identityFromDer, type PeerIdentity } from './identity.js';
export { IdentityCache } from './identity-cache.js';
export { loadTlsMaterial, CIPHERS, type TlsMaterial } from './context.js';
export {
  verifyFailureReason,
  handshakeErrorReason,
  handshakeAbortReason,
  HANDSHAKE_FAILURE_REASONS,
  HANDSHAKE_ABORT_REASONS,
  type HandshakeFailureReason,
  type HandshakeAbortReason,
} from './handshake-reason.js';
export { chainViolation, type ChainViolation } from './chain-policy.js';
export { MaterialWatcher } from './reload.js';
export { ecdhCurveOption, negotiatedGroup } from './groups.js';
export { PeerRecheck, CONNECTION_REVOKED_REASONS, type ConnectionRevokedReason, type RecheckFailure } from './peer-recheck.js';
