/**
 * The `reason` label of a failed handshake, from what node:tls reports on the
 * server's `tlsClientError` event.
 *
 * Node reports a rejected client certificate in two different ways:
 * - no certificate at all fails inside OpenSSL: `err.code` is
 *   `ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE`;
 * - a certificate that does not verify (unknown CA, expired, revoked, not yet
 *   valid) completes the OpenSSL handshake, and node's TLS wrapper then
 *   destroys the socket because `rejectUnauthorized` is set: `err` is a bare
 *   `ECONNRESET` "socket hang up", and the verify result is only in
 *   `socket.authorizationError` (OpenSSL's X509_V_ERR name without the prefix,
 *   e.g. `CERT_REVOKED`). Under TLS 1.3 the client has already seen its
 *   handshake finish and learns of the rejection from the closed socket.
 * So the classification needs both `err` and the socket (the event's second
 * argument). Checked with real handshakes in test/metrics/handshake-reason.test.ts.
 */
import type { HandshakeFailureReason } from './definitions.js';

/** Verify results of a chain that ends in no trusted CA. */
const UNKNOWN_CA = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
]);

/**
 * Maps a `tlsClientError` to a closed-enum reason; never throws.
 *
 * - `socket.authorizationError`: `CERT_HAS_EXPIRED` → `expired`,
 *   `CERT_REVOKED` → `revoked`, an untrusted chain → `unknown_ca`, any other
 *   verify failure (not yet valid, bad signature, wrong purpose, CRL problems,
 *   chain too long) → `bad_certificate`;
 * - `err.code`: `ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE` → `no_certificate`,
 *   `ERR_TLS_HANDSHAKE_TIMEOUT` (node's `handshakeTimeout`) → `timeout`;
 * - everything else → `protocol`: plain HTTP on the TLS port, unsupported
 *   versions or ciphers, a client that hangs up mid-handshake, and alerts the
 *   client sends (a client that distrusts the server certificate included).
 */
export function handshakeFailureReason(err: unknown, socket?: { authorizationError?: unknown }): HandshakeFailureReason {
  // A string at runtime (node sets `verifyError.code`), though @types/node declares an Error.
  const verify = codeOf(socket?.authorizationError) ?? socket?.authorizationError;
  if (typeof verify === 'string' && verify !== '') {
    if (verify === 'CERT_HAS_EXPIRED') return 'expired';
    if (verify === 'CERT_REVOKED') return 'revoked';
    if (UNKNOWN_CA.has(verify)) return 'unknown_ca';
    return 'bad_certificate';
  }
  const code = codeOf(err);
  if (code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') return 'no_certificate';
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return 'timeout';
  return 'protocol';
}

function codeOf(value: unknown): unknown {
  return typeof value === 'object' && value !== null ? (value as { code?: unknown }).code : undefined;
}
