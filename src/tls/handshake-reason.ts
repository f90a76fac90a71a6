/** Reasons a handshake fails, as the `reason` label of `ztproxy_tls_handshakes_total`. */
export const HANDSHAKE_FAILURE_REASONS = [
  'no_certificate',
  'unknown_ca',
  'expired',
  'revoked',
  'bad_certificate',
  'protocol',
  'timeout',
] as const;
export type HandshakeFailureReason = (typeof HANDSHAKE_FAILURE_REASONS)[number];

/**
 * Reasons a handshake is `result="aborted"`: the client walked away from it
 * rather than failing it. `after_certificate_request`: the client closed the
 * TCP connection after the server's flight (which carries the
 * CertificateRequest) without answering it, as a browser does while it asks
 * its user or its policy which certificate to send, then retries.
 */
export const HANDSHAKE_ABORT_REASONS = ['after_certificate_request'] as const;
export type HandshakeAbortReason = (typeof HANDSHAKE_ABORT_REASONS)[number];

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

/**
 * Codes Node gives a handshake whose TCP connection the client closed: FIN
 * ("socket hang up", ECONNRESET) or RST (read ECONNRESET), or a write into a
 * connection already reset (EPIPE).
 */
const CLIENT_CLOSED = new Set(['ECONNRESET', 'EPIPE']);

/**
 * The `reason` label of a handshake the client abandoned, or null when it
 * failed instead. `serverFlightSent`: the server has written its answer to a
 * ClientHello (ServerHello … CertificateRequest …; a full handshake always
 * requests the certificate). A client that closes the connection after that
 * flight without answering it is a browser in its certificate-selection round
 * (Chromium's ERR_SSL_CLIENT_AUTH_CERT_NEEDED, then a retry); one that closes
 * before it (a port probe) or sends an alert (it refuses the server) failed.
 */
export function handshakeAbortReason(code: string | undefined, serverFlightSent: boolean): HandshakeAbortReason | null {
  return serverFlightSent && code !== undefined && CLIENT_CLOSED.has(code) ? 'after_certificate_request' : null;
}
