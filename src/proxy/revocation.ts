/**
 * Revocation of live connections: after a reload, every established
 * connection whose client certificate no longer verifies against the new
 * material (revoked, CA removed, expired) is closed: HTTP/1.1 and upgraded
 * tunnels are destroyed, HTTP/2 gets GOAWAY. Counted in
 * `ztproxy_connections_revoked_total` and logged with the DN. A handshake
 * that began before the reload (verified with the old material) is checked
 * by the accept gate with the new one (see {@link LiveRevocation.lateCheck}).
 */
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { Metrics } from '../metrics/index.js';
import { PeerRecheck, type RecheckFailure, type TlsMaterial } from '../tls/index.js';
import { connectionOf } from './connection.js';

/** DER of the certificates the peer sent above its leaf. */
export function chainOf(leaf: X509Certificate): Buffer[] {
  const out: Buffer[] = [];
  let cur = leaf.issuerCertificate;
  let prev = leaf;
  while (cur !== undefined && cur !== null && out.length < 10 && !cur.raw.equals(prev.raw)) {
    out.push(cur.raw);
    prev = cur;
    cur = cur.issuerCertificate;
  }
  return out;
}

export class LiveRevocation {
  readonly #metrics: Metrics;
  /** Closes a connection now (ConnectionLifetime.kill). */
  readonly #kill: (s: TLSSocket) => void;
  /** The recheck of the material of the last reload, and when it was applied (performance.now()). */
  #recheck: PeerRecheck | null = null;
  #reloadedAt = -Infinity;
  /** Connections closed for their certificate (an HTTP/2 one lingers up to 250 ms behind its GOAWAY): counted once. */
  readonly #revoked = new WeakSet<TLSSocket>();

  constructor(metrics: Metrics, kill: (s: TLSSocket) => void) {
    this.#metrics = metrics;
    this.#kill = kill;
  }

  /**
   * Takes the material of a reload and closes every connection of `sockets`
   * that does not verify against it. Certificates shared by many
   * connections are checked once; the event loop is yielded every 256
   * connections.
   */
  async apply(material: TlsMaterial, verifyDepth: number, sockets: Iterable<TLSSocket>): Promise<void> {
    const recheck = new PeerRecheck(material.clientCAs, verifyDepth, material.crlDer);
    this.#recheck = recheck;
    this.#reloadedAt = performance.now();
    const verdicts = new Map<string, RecheckFailure | null>();
    let n = 0;
    for (const s of [...sockets]) {
      if (++n % 256 === 0) await new Promise((r) => setImmediate(r));
      if (s.destroyed || this.#revoked.has(s) || recheck !== this.#recheck) continue;
      this.#checkOne(s, recheck, verdicts);
    }
  }

  /** A connection whose handshake began at `t0`, before the last reload: closed (true) when it fails that reload's material. */
  lateCheck(s: TLSSocket, t0: number | undefined): boolean {
    return t0 !== undefined && t0 < this.#reloadedAt && this.#recheck !== null && this.#checkOne(s, this.#recheck);
  }

  /** Closes `s` when its certificate fails `recheck`; returns whether it did. */
  #checkOne(s: TLSSocket, recheck: PeerRecheck, verdicts?: Map<string, RecheckFailure | null>): boolean {
    const conn = connectionOf(s);
    if (conn === undefined) return false;
    // The peer's leaf and chain as OpenSSL keeps them for the connection: nothing is stored per connection for this.
    let leaf = s.getPeerX509Certificate();
    if (leaf === undefined) leaf = new X509Certificate(conn.identity.der);
    let key = leaf.raw.toString('latin1');
    for (const c of chainOf(leaf)) key += c.toString('latin1');
    let verdict = verdicts?.get(key);
    if (verdict === undefined) {
      verdict = recheck.check(leaf);
      verdicts?.set(key, verdict);
    }
    if (verdict === null) return false;
    this.#revoked.add(s);
    this.#metrics.connectionsRevoked.inc({ reason: verdict });
    const id = conn.identity;
    conn.log.warn({ dn: id.subjectDN, issuer: id.issuerDN, serial: id.serial, reason: verdict, protocol: s.alpnProtocol || 'http/1.1' }, 'connection closed: client certificate no longer verifies');
    this.#kill(s);
    return true;
  }
}
