import type { HandshakeFailureReason } from '../metrics/index.js';

const UNKNOWN_CA = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
]);

/**
 * The `reason` label for a client certificate OpenSSL did not verify, from
 * the verify error Node reports on the socket (`authorizationError`).
 */
export function verifyFailureReason(code: string | null | undefined, hasCertificate: boolean): HandshakeFailureReason {
  if (!hasCertificate) return 'no_certificate';
  if (code === 'CERT_HAS_EXPIRED') return 'expired';
  if (code === 'CERT_REVOKED') return 'revoked';
  if (code && UNKNOWN_CA.has(code)) return 'unknown_ca';
  return 'bad_certificate';
}

/** The `reason` label for a handshake that failed before verification. */
export function handshakeErrorReason(code: string | undefined): HandshakeFailureReason {
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return 'timeout';
  if (code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') return 'no_certificate';
  return 'protocol';
}
