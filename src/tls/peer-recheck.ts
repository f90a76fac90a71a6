/**
 * Re-verification of an established client's certificate against new TLS
 * material (after a CRL, client-CA or config reload), so that a connection
 * made before a revocation does not outlive it.
 *
 * It asks what OpenSSL would answer on a new handshake with that material,
 * as Node configures it (X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL
 * once a CRL is given): a chain from the leaf through the certificates the
 * client sent to a self-signed trusted CA, each link checked with
 * node:crypto (`checkIssued`, then `verify` of the signature with the
 * issuer's key); every certificate in its validity period; then, with a CRL,
 * every certificate below the anchor covered by a CRL of its issuer (name
 * and signature checked, in its validity period) that does not list its
 * serial. `tls.verifyDepth` and the no-CA-as-client rule are applied as in
 * the handshake (chain-policy.ts).
 */
import type { X509Certificate } from 'node:crypto';
import { chainViolation } from './chain-policy.js';
import { crlSignedBy, normalizeSerial, parseCrl, type ParsedCrl } from './crl-list.js';
import { certificateParts } from './der.js';

/**
 * Why an established connection was closed after a reload, as the `reason`
 * label of `ztproxy_connections_revoked_total`: the handshake failure reason a
 * new connection with the same certificate would get.
 */
export const CONNECTION_REVOKED_REASONS = ['revoked', 'unknown_ca', 'expired', 'bad_certificate'] as const;
export type ConnectionRevokedReason = (typeof CONNECTION_REVOKED_REASONS)[number];

/** Why a connection's certificate no longer verifies: the `reason` a new handshake would be refused with. */
export type RecheckFailure = ConnectionRevokedReason;

/** Chains longer than this are not followed (OpenSSL's default depth limit is 100; ours is 16). */
const MAX_CHAIN = 20;

function subjectDer(c: X509Certificate): Buffer {
  const der = c.raw;
  const s = certificateParts(der).subject;
  return der.subarray(s.start, s.end);
}

function inValidity(c: X509Certificate, nowMs: number): boolean {
  return Date.parse(c.validFrom) <= nowMs && nowMs <= Date.parse(c.validTo);
}

/** `issuer` issued `c`: names and key identifiers match (checkIssued) and its key verifies the signature. */
function issued(c: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return c.checkIssued(issuer) && c.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

export class PeerRecheck {
  readonly #cas: readonly X509Certificate[];
  /** The trusted CAs that are self-signed (chain ends), checked once per material, not per connection. */
  readonly #anchors: ReadonlySet<X509Certificate>;
  readonly #verifyDepth: number;
  /** null: no CRL configured (no revocation check, as in the handshake). */
  readonly #crls: readonly ParsedCrl[] | null;
  /** Signature check of each CRL per issuer certificate (fingerprint256), memoized for this material. */
  readonly #signed = new Map<string, boolean | null>();

  /**
   * `crlDer`: the CRLs OpenSSL was given (DER), or null without `tls.crl`.
   * Throws a plain Error when a CRL does not parse (loadTlsMaterial has
   * already refused such material).
   */
  constructor(clientCAs: readonly X509Certificate[], verifyDepth: number, crlDer: readonly Buffer[] | null) {
    this.#cas = clientCAs;
    this.#anchors = new Set(clientCAs.filter((ca) => issued(ca, ca)));
    this.#verifyDepth = verifyDepth;
    this.#crls = crlDer === null ? null : crlDer.map(parseCrl);
  }

  /**
   * Null when `leaf` (with the chain the peer sent, through
   * `issuerCertificate`) still verifies at `nowMs`, else why not. Never throws.
   */
  check(leaf: X509Certificate, nowMs = Date.now()): RecheckFailure | null {
    const chain = this.#build(leaf);
    if (chain === null) return 'unknown_ca';
    if (chain.some((c) => !inValidity(c, nowMs))) return 'expired';
    if (chainViolation(leaf, this.#cas, this.#verifyDepth) !== null) return 'bad_certificate';
    if (this.#crls === null) return null;
    for (let i = 0; i + 1 < chain.length; i++) {
      const verdict = this.#revocation(chain[i]!, chain[i + 1]!, nowMs);
      if (verdict !== null) return verdict;
    }
    return null;
  }

  /** Leaf first, trusted self-signed CA last; null when no such chain can be built. */
  #build(leaf: X509Certificate): X509Certificate[] | null {
    const sent: X509Certificate[] = [];
    for (let c = leaf.issuerCertificate; c !== undefined && c !== null && sent.length < MAX_CHAIN && !sent.some((s) => s.raw.equals(c!.raw)); c = c.issuerCertificate) sent.push(c);
    const chain = [leaf];
    let cur = leaf;
    while (chain.length <= MAX_CHAIN) {
      // A trusted issuer first: OpenSSL looks in the trust store before the untrusted chain.
      const ca = this.#cas.find((t) => issued(cur, t));
      if (ca !== undefined) {
        chain.push(ca);
        if (this.#anchors.has(ca)) return chain;
        cur = ca;
        continue;
      }
      const next = sent.find((s) => !chain.includes(s) && issued(cur, s));
      if (next === undefined) return null;
      chain.push(next);
      cur = next;
    }
    return null;
  }

  /** Revocation status of `cert` by the CRLs of `issuer` (CRL_CHECK_ALL: a certificate without one fails). */
  #revocation(cert: X509Certificate, issuer: X509Certificate, nowMs: number): RecheckFailure | null {
    const name = subjectDer(issuer);
    const fp = issuer.fingerprint256;
    let found = false;
    for (let i = 0; i < this.#crls!.length; i++) {
      const crl = this.#crls![i]!;
      if (!crl.issuer.equals(name)) continue;
      const key = `${i}/${fp}`;
      let signed = this.#signed.get(key);
      if (signed === undefined) this.#signed.set(key, (signed = crlSignedBy(crl, issuer)));
      if (signed === false) return 'bad_certificate'; // OpenSSL: CRL signature failure
      if (crl.thisUpdateMs > nowMs || (crl.nextUpdateMs !== null && crl.nextUpdateMs < nowMs)) continue;
      found = true;
      if (crl.serials.has(normalizeSerial(cert.serialNumber))) return 'revoked';
    }
    return found ? null : 'bad_certificate'; // OpenSSL: unable to get certificate CRL, or CRL expired
  }
}
