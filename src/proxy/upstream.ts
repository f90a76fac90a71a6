/**
 * One route's upstream: one undici Pool per address, round-robin, and
 * passive health (an address whose connect fails is skipped for a while).
 */
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import type { ResolvedUpstream } from '../config/index.js';
import { ZtpError } from '../util/index.js';
import { Admission } from './admission.js';

/** How long an address whose connect failed is skipped. */
const DOWN_MS = 5_000;

export interface UpstreamTimeouts {
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
}

/** Reads the upstream TLS files of a route; throws ZTP_TLS_MATERIAL naming the key path. */
function readUpstreamTls(u: ResolvedUpstream, at: string): { ca?: Buffer; cert?: Buffer; key?: Buffer } {
  const read = (file: string | undefined, key: string) => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (cause) {
      throw new ZtpError('ZTP_TLS_MATERIAL', `${at}.${key}: cannot read ${file}`, { cause });
    }
  };
  const out: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
  const ca = read(u.ca, 'ca');
  const cert = read(u.cert, 'cert');
  const key = read(u.key, 'key');
  if (ca) out.ca = ca;
  if (cert) out.cert = cert;
  if (key) out.key = key;
  return out;
}

export class Upstream {
  readonly origins: readonly string[];
  readonly #pools: Pool[];
  /** One per pool: at most `connections` requests in flight, the rest queue with a timeout. */
  readonly #admissions: Admission[];
  readonly #downUntil: number[];
  #next = 0;

  /** Creates the pools (no connection is opened yet). Reads TLS files synchronously: call at start or reload only. */
  constructor(u: ResolvedUpstream, at: string, t: UpstreamTimeouts) {
    this.origins = u.origins;
    const tlsFiles = u.tls ? readUpstreamTls(u, at) : {};
    this.#pools = u.origins.map(
      (origin) =>
        new Pool(origin, {
          connections: u.connections,
          pipelining: 1,
          keepAliveTimeout: 4_000,
          headersTimeout: t.headersTimeoutMs,
          bodyTimeout: t.bodyTimeoutMs,
          connectTimeout: 10_000,
          ...(u.tls
            ? {
                connect: {
                  ...tlsFiles,
                  ...(u.servername ? { servername: u.servername } : {}),
                  rejectUnauthorized: true,
                  minVersion: 'TLSv1.2' as const,
                },
              }
            : {}),
        }),
    );
    this.#admissions = u.origins.map(() => new Admission(u.connections));
    this.#downUntil = u.origins.map(() => 0);
  }

  /** Index of the next address to use: round-robin over those not marked down (all down: plain round-robin). */
  pick(now = performance.now()): number {
    const n = this.#pools.length;
    for (let k = 0; k < n; k++) {
      const i = (this.#next + k) % n;
      if (this.#downUntil[i]! <= now) {
        this.#next = (i + 1) % n;
        return i;
      }
    }
    const i = this.#next;
    this.#next = (i + 1) % n;
    return i;
  }

  pool(i: number): Pool {
    return this.#pools[i]!;
  }

  admission(i: number): Admission {
    return this.#admissions[i]!;
  }

  markDown(i: number, now: number): void {
    this.#downUntil[i] = now + DOWN_MS;
  }

  /**
   * Records a failed attempt on address `i` and says whether the request may
   * be tried on another address: only when it never reached this one (a
   * connect failure, which also marks the address down) and an untried
   * address is left after `attempts`.
   */
  failed(i: number, connectFailed: boolean, attempts: number): boolean {
    if (!connectFailed) return false;
    this.markDown(i, performance.now());
    return attempts < this.#pools.length;
  }

  markUp(i: number): void {
    if (this.#downUntil[i] !== 0) this.#downUntil[i] = 0;
  }

  /** Closes the pools after in-flight requests finish. */
  async close(): Promise<void> {
    await Promise.all(this.#pools.map((p) => p.close().catch(() => {})));
  }

  /** Destroys the pools now: every connection closed, requests in flight and queued fail. */
  async destroy(): Promise<void> {
    await Promise.all(this.#pools.map((p) => p.destroy().catch(() => {})));
  }
}
