/**
 * How long one client connection may live: `limits.maxConnectionAgeMs`
 * (nginx `keepalive_time`), applied gracefully, and the abrupt close of a
 * connection whose client certificate was revoked.
 *
 * HTTP/1.1 past its age: the response in flight (or the next one) carries
 * `Connection: close` and the connection closes after it; an idle one is
 * closed at the next sweep. HTTP/2: GOAWAY, streams in flight finish.
 * Upgraded tunnels (WebSocket) are exempt from the age: they are long-lived
 * by design and bounded by `upgradeIdleTimeoutMs` and revocation.
 * `limits.maxRequestsPerConnection` is node:http's `maxRequestsPerSocket`
 * on HTTP/1.1 and a stream count in Http2Front.
 *
 * State lives in three symbol-keyed fields on the TLS socket: no per-socket
 * timer, one sweep per second over the open sockets.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Http2Front } from './http2-front.js';

const kBornAt = Symbol('ztproxy.bornAt');
const kInFlight = Symbol('ztproxy.inFlight');
const kUpgraded = Symbol('ztproxy.upgraded');
const kLatest = Symbol('ztproxy.latestResponse');

type TrackedSocket = TLSSocket & {
  [kBornAt]?: number;
  [kInFlight]?: number;
  [kUpgraded]?: boolean;
  [kLatest]?: ServerResponse | null;
};

/** How often the age sweep runs; the age limit is kept to within this. */
export const SWEEP_INTERVAL_MS = 1000;
/** A socket told to close that does not within this is destroyed. */
const CLOSE_GRACE_MS = 1000;

export class ConnectionLifetime {
  #maxAgeMs: number;
  readonly #h2: Http2Front;
  readonly #closing = new WeakSet<TLSSocket>();

  constructor(maxAgeMs: number, h2: Http2Front) {
    this.#maxAgeMs = maxAgeMs;
    this.#h2 = h2;
  }

  /** Takes the age limit of a reloaded config (connections keep their birth time). */
  set maxAgeMs(ms: number) {
    this.#maxAgeMs = ms;
  }

  /** Starts the clock of a verified connection. */
  track(s: TLSSocket, now: number = performance.now()): void {
    (s as TrackedSocket)[kBornAt] = now;
  }

  #old(s: TrackedSocket, now: number): boolean {
    return s[kBornAt] !== undefined && now - s[kBornAt] >= this.#maxAgeMs;
  }

  /** Prepended 'request' listener of the HTTP/1.1 server. */
  onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const s = req.socket as TrackedSocket;
    s[kInFlight] = (s[kInFlight] ?? 0) + 1;
    s[kLatest] = res;
    if (this.#old(s, performance.now())) res.shouldKeepAlive = false;
    res.once('close', () => {
      s[kInFlight]!--;
      if (s[kLatest] === res) s[kLatest] = null;
    });
  };

  /** Prepended 'upgrade' listener: the connection is a tunnel from now on. */
  onUpgrade = (req: IncomingMessage): void => {
    (req.socket as TrackedSocket)[kUpgraded] = true;
  };

  /** Applies the age limit to `sockets` (call every {@link SWEEP_INTERVAL_MS}). */
  sweep(sockets: Iterable<TLSSocket>, now = performance.now()): void {
    for (const socket of sockets) {
      const s = socket as TrackedSocket;
      if (s[kUpgraded] || this.#closing.has(s) || !this.#old(s, now)) continue;
      if (s.alpnProtocol === 'h2') {
        this.#closing.add(s);
        this.#h2.goaway(s, true);
      } else if ((s[kInFlight] ?? 0) === 0) {
        this.#closing.add(s);
        s.end();
        setTimeout(() => s.destroy(), CLOSE_GRACE_MS).unref();
      } else {
        const res = s[kLatest];
        if (res && !res.headersSent) res.shouldKeepAlive = false;
        // Headers already sent: the connection is idle after this response and the next sweep closes it.
      }
    }
  }

  /** Closes a connection now (its client certificate no longer verifies): GOAWAY on HTTP/2, else destroyed. */
  kill(s: TLSSocket): void {
    if (s.alpnProtocol === 'h2') this.#h2.goaway(s, false);
    else s.destroy();
  }
}
