/**
 * Identities of recently verified client certificates, shared by the
 * connections that present the same certificate.
 *
 * A client service usually opens many connections with one certificate (a
 * pool, reconnects after an idle timeout). Its identity is a pure function
 * of the DER it sent, so it is parsed once and the connections share one
 * object: less CPU per handshake, and one identity (DNs, SANs, DER,
 * fingerprints) in memory instead of one per connection. The cache is only
 * consulted after OpenSSL and the chain policy have accepted the
 * certificate; it never decides anything. Least recently used entries go
 * first once `max` distinct certificates are held.
 */
import { identityFromDer, type PeerIdentity } from './identity.js';

/** Distinct certificates held per process: a few MB at most. */
const DEFAULT_MAX = 512;

export class IdentityCache {
  readonly #max: number;
  readonly #byDer = new Map<string, PeerIdentity>();

  constructor(max = DEFAULT_MAX) {
    this.#max = max;
  }

  /** Entries held now. */
  get size(): number {
    return this.#byDer.size;
  }

  /**
   * The identity of `der` with `chainDer` (the certificates the peer sent
   * above its leaf, [] when not forwarded). Throws like identityFromDer on
   * DER it cannot read; nothing is cached then.
   */
  get(der: Buffer, chainDer: readonly Buffer[]): PeerIdentity {
    // DER is self-delimiting, so the concatenation names exactly one leaf and chain.
    let key = der.toString('latin1');
    for (const c of chainDer) key += c.toString('latin1');
    const hit = this.#byDer.get(key);
    if (hit !== undefined) {
      // Map keeps insertion order: re-inserting makes this the most recently used.
      this.#byDer.delete(key);
      this.#byDer.set(key, hit);
      return hit;
    }
    const identity = identityFromDer(der, chainDer);
    if (this.#byDer.size >= this.#max) this.#byDer.delete(this.#byDer.keys().next().value!);
    this.#byDer.set(key, identity);
    return identity;
  }
}
