/**
 * The verified identity of a TLS peer, computed once per connection from the
 * DER of its certificate (never per request).
 */
export interface PeerIdentity {
  /** Subject DN exactly as nginx's `$ssl_client_s_dn` prints it (OpenSSL RFC 2253 form). */
  readonly subjectDN: string;
  /** Issuer DN in the same form (`$ssl_client_i_dn`). */
  readonly issuerDN: string;
  /** Serial as upper-case hex without leading zeros beyond one byte pair, like `$ssl_client_serial`. */
  readonly serial: string;
  /** SHA-1 fingerprint, lower-case hex without colons, like `$ssl_client_fingerprint`. */
  readonly fingerprintSha1: string;
  /** SHA-256 fingerprint, lower-case hex without colons. */
  readonly fingerprintSha256: string;
  /** Subject attribute values by type (first RDN first, as in the certificate). */
  readonly cn: readonly string[];
  readonly ou: readonly string[];
  readonly o: readonly string[];
  /** SAN entries. */
  readonly dns: readonly string[];
  readonly uri: readonly string[];
  readonly email: readonly string[];
  readonly ip: readonly string[];
  /** Not-after of the leaf, epoch milliseconds. */
  readonly notAfterMs: number;
  /** DER of the leaf and of the chain the client sent (leaf first). */
  readonly der: Buffer;
  readonly chainDer: readonly Buffer[];
}
