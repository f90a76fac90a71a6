/**
 * One proxied request: an undici dispatch handler that streams the upstream
 * response to the client with backpressure both ways, maps failures to
 * 502/504, aborts the upstream request when the client goes away, and
 * writes the access log line and metrics when the exchange ends.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { mapUpstreamError } from './error-map.js';
import type { ClientConnection } from './connection.js';
import { downstreamResponseHeaders } from './headers.js';
import type { RouteRuntime } from './runtime.js';
import { sendError } from './respond.js';
import { ZtpError } from '../errors.js';

/** RFC 9112 §4: reason-phrase = *( HTAB / SP / VCHAR / obs-text ). */
const REASON_PHRASE = /^[\t\x20-\x7e\x80-\xff]*$/;

export interface ExchangeContext {
  readonly accessLog: boolean;
}

/** Milliseconds with sub-millisecond resolution. */
const now = (): number => performance.now();

export class Exchange implements Dispatcher.DispatchHandler {
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #conn: ClientConnection;
  readonly #rr: RouteRuntime;
  readonly #requestId: string;
  readonly #path: string;
  readonly #host: string;
  readonly #ctx: ExchangeContext;
  readonly #t0: number;
  /** Kept here: `req.socket` is null once the response has detached from it. */
  readonly #socket: IncomingMessage['socket'];
  readonly #bytesIn0: number;
  readonly #bytesOut0: number;
  /** Response body bytes relayed: the byte count of an HTTP/2 stream (its connection's counters are shared by all streams). */
  #bodyOut = 0;
  #tSent = 0;
  #ttfbMs = -1;
  #origin = -1;
  #abort: ((err?: Error) => void) | null = null;
  #resume: (() => void) | null = null;
  #upstreamDone = false;
  #logged = false;
  /** Options to dispatch again on another address after a connect failure (bodiless requests only). */
  #retry: Dispatcher.DispatchOptions | null = null;
  #attempts = 0;

  constructor(req: IncomingMessage, res: ServerResponse, conn: ClientConnection, rr: RouteRuntime, requestId: string, host: string, path: string, ctx: ExchangeContext, t0: number) {
    this.#req = req;
    this.#res = res;
    this.#conn = conn;
    this.#rr = rr;
    this.#requestId = requestId;
    this.#host = host;
    this.#path = path;
    this.#ctx = ctx;
    this.#t0 = t0;
    this.#socket = req.socket;
    this.#bytesIn0 = req.socket.bytesRead;
    this.#bytesOut0 = req.socket.bytesWritten;
    res.on('close', this.#onClientClose); // 'close' is emitted once; `on` spares the once-wrapper
  }

  /** Sends the request upstream. `body` is the client request when it has one, else null. */
  start(opts: Dispatcher.DispatchOptions): void {
    if (opts.body === null || opts.body === undefined) this.#retry = opts;
    this.#dispatch(opts);
  }

  #dispatch(opts: Dispatcher.DispatchOptions): void {
    const up = this.#rr.upstream;
    this.#origin = up.pick();
    this.#attempts++;
    this.#tSent = now();
    up.pool(this.#origin).dispatch(opts, this);
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
    if (this.#res.destroyed) abort(new Error('client closed the connection'));
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode < 200) return true; // 1xx: undici handles 100-continue; others are not relayed
    const t = now();
    this.#ttfbMs = t - this.#tSent;
    this.#rr.ttfb.observe(this.#ttfbMs / 1000);
    this.#rr.upstream.markUp(this.#origin);
    this.#resume = resume;
    const res = this.#res;
    if (res.destroyed) return false;
    // A malformed head is thrown: undici aborts the upstream request and calls onError, which answers 502.
    if (!REASON_PHRASE.test(statusText)) throw new ZtpError('ZTP_UPSTREAM_RESPONSE', 'upstream reason phrase has control bytes', { httpStatus: 502 });
    // HTTP/2 has no reason phrase (node warns when given one).
    const reason = this.#req.httpVersionMajor === 2 ? undefined : statusText || undefined;
    try {
      res.writeHead(statusCode, reason, downstreamResponseHeaders(rawHeaders, this.#requestId));
    } catch (cause) {
      throw new ZtpError('ZTP_UPSTREAM_RESPONSE', `upstream response head cannot be relayed over HTTP/${this.#req.httpVersion}`, { cause, httpStatus: 502 });
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.#bodyOut += chunk.length;
    const ok = this.#res.write(chunk);
    if (!ok && this.#resume !== null) this.#res.once('drain', this.#resume);
    return ok;
  }

  onComplete(): void {
    this.#upstreamDone = true;
    this.#res.end();
  }

  onError(err: Error): void {
    this.#upstreamDone = true;
    const res = this.#res;
    if (res.destroyed) return; // the client left; its close already logged the exchange
    const m = mapUpstreamError(err);
    if (this.#rr.upstream.failed(this.#origin, m.connectFailed, this.#attempts) && this.#retry !== null && !res.headersSent) {
      this.#upstreamDone = false;
      this.#dispatch(this.#retry);
      return;
    }
    this.#rr.countUpstreamError(m.kind);
    this.#conn.log.warn(
      { reqId: this.#requestId, route: this.#rr.route.name, upstream: this.#rr.upstream.origins[this.#origin], kind: m.kind, err },
      'upstream request failed',
    );
    if (!res.headersSent) sendError(res, m.status, this.#requestId, m.status === 504 ? 'upstream timed out' : 'upstream unavailable');
    else res.destroy(err); // mid-body failure: the client must see a truncated response, not a complete one
  }

  #onClientClose = (): void => {
    if (!this.#upstreamDone && this.#abort !== null) this.#abort(new Error('client closed the connection'));
    this.#finish();
  };

  #finish(): void {
    if (this.#logged) return;
    this.#logged = true;
    const res = this.#res;
    const status = res.writableFinished ? res.statusCode : 499; // 499: client closed before the response ended (nginx's code)
    const durationMs = now() - this.#t0;
    this.#rr.countRequest(status);
    this.#rr.duration.observe(durationMs / 1000);
    if (this.#ctx.accessLog) {
      const sock = this.#socket;
      const id = this.#conn.identity;
      this.#conn.logAccess({
        reqId: this.#requestId,
        dn: id.subjectDN,
        serial: id.serial,
        method: this.#req.method,
        httpVersion: this.#req.httpVersion,
        host: this.#host,
        path: this.#path,
        status,
        bytesIn: this.#req.httpVersionMajor === 2 ? null : sock.bytesRead - this.#bytesIn0,
        bytesOut: this.#req.httpVersionMajor === 2 ? this.#bodyOut : sock.bytesWritten - this.#bytesOut0,
        route: this.#rr.route.name,
        upstream: this.#rr.upstream.origins[this.#origin],
        ttfbMs: this.#ttfbMs < 0 ? null : Math.round(this.#ttfbMs * 1000) / 1000,
        durationMs: Math.round(durationMs * 1000) / 1000,
      });
    }
  }
}
