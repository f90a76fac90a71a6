/**
 * What every upstream exchange shares, whatever it relays (a response in
 * forward.ts, an HTTP/1.1 tunnel in upgrade.ts, an HTTP/2 WebSocket stream in
 * h2-websocket.ts): the routed {@link Target} it starts from, the pick of an
 * address and its dispatch, the retry on another address after a connect
 * failure, the abort of the upstream request when the client goes away, the
 * mapping of upstream failures with their metric and log line, and the one
 * access-log record written when the exchange ends.
 */
import type { IncomingMessage } from 'node:http';
import type { Dispatcher } from 'undici';
import type { AccessRecord } from '../log/index.js';
import type { ClientConnection } from './connection.js';
import { mapUpstreamError, type MappedError } from './error-map.js';
import type { RouteRuntime } from './runtime.js';

/** A request that was routed and allowed: where it goes and what goes with it. */
export interface Target {
  readonly req: IncomingMessage;
  readonly conn: ClientConnection;
  /** When the request arrived (performance.now()). */
  readonly t0: number;
  /** Canonical host (lower case, no port). */
  readonly host: string;
  /** Validated `host[:port]`, forwarded as Host. */
  readonly authority: string;
  readonly path: string;
  readonly rr: RouteRuntime;
  readonly requestId: string;
  /** The upstream request headers (hop-by-hop and spoofed identity headers removed, the proxy's own added). */
  readonly headers: string[];
}

/** What the access-log record of one exchange reports beyond the target. */
export interface ExchangeSummary {
  readonly status: number;
  readonly bytesIn: number | null;
  readonly bytesOut: number;
  /** The Upgrade protocol, on tunnels only. */
  readonly upgrade?: string | boolean | null;
  /** Time to the upstream's first byte, on relayed responses only. */
  readonly ttfbMs?: number | null;
  /** Defaults to the time since the request arrived. */
  readonly durationMs?: number;
}

/** The message of the error answer for an upstream failure. */
export function upstreamErrorMessage(m: MappedError): string {
  return m.status === 504 ? 'upstream timed out' : 'upstream unavailable';
}

/** Milliseconds rounded to the microsecond, as the access log reports them. */
export function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

export abstract class UpstreamExchange implements Dispatcher.DispatchHandler {
  protected readonly target: Target;
  protected readonly req: IncomingMessage;
  protected readonly conn: ClientConnection;
  protected readonly rr: RouteRuntime;
  protected readonly requestId: string;
  readonly #accessLog: boolean;
  /** Index of the upstream address in use (-1 before the first pick). */
  protected origin = -1;
  #attempts = 0;
  #abort: ((err?: Error) => void) | null = null;
  #ended = false;
  /** Tunnels: the upstream answered (with `status`); the request is counted then. */
  protected answered = false;
  protected status = 0;

  constructor(target: Target, accessLog: boolean) {
    this.target = target;
    this.req = target.req;
    this.conn = target.conn;
    this.rr = target.rr;
    this.requestId = target.requestId;
    this.#accessLog = accessLog;
  }

  /** True when the client can no longer be answered (checked before and after each upstream step). */
  protected abstract clientGone(): boolean;

  /** Sends `opts` to address `origin` of the route's upstream (an attempt). */
  protected dispatchTo(origin: number, opts: Dispatcher.DispatchOptions): void {
    this.origin = origin;
    this.#attempts++;
    this.rr.upstream.pool(origin).dispatch(opts, this);
  }

  /** Sends `opts` to the next address of the round-robin. */
  protected dispatchNext(opts: Dispatcher.DispatchOptions): void {
    this.dispatchTo(this.rr.upstream.pick(), opts);
  }

  /** Aborts the upstream request, once undici has handed over its abort. */
  protected abortUpstream(message = 'client closed the connection'): void {
    if (this.#abort !== null) this.#abort(new Error(message));
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
    if (this.clientGone()) abort(new Error('client closed the connection'));
  }

  /**
   * Records an upstream failure: maps it, tells the upstream (a connect
   * failure marks the address down), and when `retry` is given and another
   * address is left, calls it and returns null. Otherwise counts and logs the
   * failure and returns its mapping, for the subclass to answer the client;
   * null too when the client is `gone` (nothing to answer).
   */
  protected upstreamFailed(err: Error, gone: boolean, retry: (() => void) | null): MappedError | null {
    const m = mapUpstreamError(err);
    const another = this.rr.upstream.failed(this.origin, m.connectFailed, this.#attempts);
    if (gone) return null;
    if (another && retry !== null) {
      retry();
      return null;
    }
    this.rr.countUpstreamError(m.kind);
    this.conn.log.warn({ reqId: this.requestId, route: this.rr.route.name, upstream: this.upstreamOrigin, kind: m.kind, err }, 'upstream request failed');
    return m;
  }

  /** The address in use, as configured (undefined before the first pick). */
  protected get upstreamOrigin(): string | undefined {
    return this.rr.upstream.origins[this.origin];
  }

  /** Tunnels: the upstream answered with `status`: counted now, with the time to that answer (not the tunnel's lifetime). */
  protected markAnswered(status: number): void {
    this.answered = true;
    this.status = status;
    this.rr.upstream.markUp(this.origin);
    this.rr.countRequest(status);
    this.rr.duration.observe((performance.now() - this.target.t0) / 1000);
  }

  /**
   * Tunnels: an upstream failure. Before the upstream answered, another
   * address is tried when one is left, else the client gets `reply(status,
   * message)`; once it answered, the tunnel is `cut`.
   */
  protected tunnelFailed(err: Error, retry: () => void, reply: (status: number, message: string) => void, cut: () => void): void {
    const m = this.upstreamFailed(err, this.clientGone(), this.answered ? null : retry);
    if (m === null) return;
    if (this.answered) {
      cut();
      return;
    }
    this.markAnswered(m.status);
    reply(m.status, upstreamErrorMessage(m));
  }

  /** Tunnels: the client side closed. The upstream side goes too; the exchange is counted (499 if the upstream never answered) and logged once. */
  protected tunnelClosed(upstream: { destroy(): void } | null, s: Omit<ExchangeSummary, 'status'>): void {
    if (!this.answered) this.abortUpstream();
    upstream?.destroy();
    if (!this.firstEnd()) return;
    if (!this.answered) this.rr.countRequest(499);
    this.logAccess({ ...s, status: this.answered ? this.status : 499 });
  }

  /** True the first time only: the end of an exchange is counted and logged once. */
  protected firstEnd(): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    return true;
  }

  /** Writes the exchange's access-log record (when the access log is on). */
  protected logAccess(s: ExchangeSummary): void {
    if (!this.#accessLog) return;
    const { req, conn, target } = this;
    const id = conn.identity;
    // Built field by field, in the order the line has always had (tunnels: `upgrade` after httpVersion; responses: ttfbMs last but one).
    const r: AccessRecord = { reqId: this.requestId, dn: id.subjectDN, serial: id.serial, method: req.method, httpVersion: req.httpVersion };
    if (s.upgrade !== undefined) r.upgrade = s.upgrade;
    r.host = target.host;
    r.path = target.path;
    r.status = s.status;
    r.bytesIn = s.bytesIn;
    r.bytesOut = s.bytesOut;
    r.route = this.rr.route.name;
    r.upstream = this.upstreamOrigin;
    if (s.ttfbMs !== undefined) r.ttfbMs = s.ttfbMs;
    r.durationMs = roundMs(s.durationMs ?? performance.now() - target.t0);
    conn.logAccess(r);
  }
}
