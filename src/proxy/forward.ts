/**
 * One proxied request: an undici dispatch handler that streams the upstream
 * response to the client with backpressure both ways, maps failures to
 * 502/504, aborts the upstream request when the client goes away, and
 * writes the access log line and metrics when the exchange ends.
 *
 * What protects the upstream from the client (issue 14):
 * - `#gone`, one flag set when the client's response closes before it ended
 *   (HTTP/1.1 connection closed, HTTP/2 stream reset: `Http2ServerResponse`
 *   has no `.destroyed`), checked at every step; the upstream request is
 *   aborted as soon as both it and the flag exist;
 * - the body is read by {@link RequestBody} (buffered up to
 *   `limits.requestBufferBytes`, incomplete bodies abort, `bodyTimeoutMs`);
 * - at most `limits.maxConcurrentPerIdentity` requests per subject DN (429);
 * - a pool slot through {@link Admission} (`upstreamQueueTimeoutMs`, 503);
 * - a client that reads nothing for `limits.sendTimeoutMs` is disconnected.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import http2 from 'node:http2';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { RefusedReason } from '../metrics/index.js';
import type { Admission, IdentityLimiter, Ticket } from './admission.js';
import { mapUpstreamError } from './error-map.js';
import type { ClientConnection } from './connection.js';
import { downstreamResponseHeaders } from './headers.js';
import { RequestBody } from './request-body.js';
import type { RouteRuntime } from './runtime.js';
import { sendError } from './respond.js';
import { ZtpError } from '../errors.js';

/** RFC 9112 §4: reason-phrase = *( HTAB / SP / VCHAR / obs-text ). */
const REASON_PHRASE = /^[\t\x20-\x7e\x80-\xff]*$/;

export interface ExchangeLimits {
  readonly requestBufferBytes: number;
  readonly bodyTimeoutMs: number;
  readonly sendTimeoutMs: number;
  readonly maxConcurrentPerIdentity: number;
  readonly upstreamQueueTimeoutMs: number;
}

export interface ExchangeContext {
  readonly accessLog: boolean;
  readonly limits: ExchangeLimits;
  /** Shared by every connection of the process. */
  readonly identities: IdentityLimiter;
  readonly refused: (reason: RefusedReason) => void;
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
  /** The client's response closed before it ended: nothing more is sent to it, and the upstream request is aborted. */
  #gone = false;
  /** ztproxy answered (or cut) the request itself: upstream results are dropped. */
  #refused = false;
  #body: RequestBody | null = null;
  #ticket: Ticket | null = null;
  /** The pool slot this exchange holds, until its upstream request ends. */
  #slot: Admission | null = null;
  /** The subject DN whose per-identity place this exchange holds. */
  #dn: string | null = null;
  #sendTimer: NodeJS.Timeout | null = null;
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

  /** Sends the request upstream; `body` is the client request when it has a body, else null. */
  start(opts: Dispatcher.DispatchOptions, body: IncomingMessage | null): void {
    const { limits, identities } = this.#ctx;
    const dn = this.#conn.identity.subjectDN;
    if (!identities.tryAcquire(dn, limits.maxConcurrentPerIdentity)) {
      this.#refuse('identity_limit', 429, 'too many concurrent requests for this identity', ['retry-after', '1']);
      return;
    }
    this.#dn = dn;
    if (body === null) {
      this.#retry = opts;
      this.#admit(opts);
      return;
    }
    this.#body = new RequestBody(body, limits.requestBufferBytes, limits.bodyTimeoutMs, {
      whole: (buf) => {
        this.#retry = { ...opts, body: buf }; // read whole: may be tried on another address after a connect failure
        this.#admit(this.#retry);
      },
      streaming: (stream: Readable) => this.#admit({ ...opts, body: stream }),
      incomplete: () => {
        if (this.#gone || this.#refused) return;
        this.#ctx.refused('body_incomplete');
        this.#refused = true;
        this.#conn.log.info({ reqId: this.#requestId, route: this.#rr.route.name }, 'request body incomplete; upstream request aborted');
        this.#cancelUpstream();
        if (!this.#res.headersSent) sendError(this.#res, 400, this.#requestId, 'request body incomplete', true);
        else this.#cutClient();
      },
      timedOut: () => {
        if (this.#gone || this.#refused) return;
        this.#ctx.refused('body_timeout');
        this.#refused = true;
        this.#conn.log.info({ reqId: this.#requestId, route: this.#rr.route.name, bodyTimeoutMs: limits.bodyTimeoutMs }, 'request body timed out; upstream request aborted');
        this.#cancelUpstream();
        if (!this.#res.headersSent) sendError(this.#res, 408, this.#requestId, 'request body timed out', true);
        else this.#cutClient();
      },
    });
  }

  /** Answers the request without the upstream, counted under `reason`. */
  #refuse(reason: RefusedReason, status: number, message: string, headers: string[] = []): void {
    this.#refused = true;
    this.#ctx.refused(reason);
    this.#conn.log.info({ reqId: this.#requestId, route: this.#rr.route.name, dn: this.#conn.identity.subjectDN, reason, status }, 'request refused');
    this.#body?.stop();
    sendError(this.#res, status, this.#requestId, message, true, headers);
  }

  /** Waits for a slot of the next address's pool, then dispatches; 503 after `upstreamQueueTimeoutMs`. */
  #admit(opts: Dispatcher.DispatchOptions): void {
    if (this.#gone || this.#refused) return;
    const up = this.#rr.upstream;
    const origin = up.pick();
    const adm = up.admission(origin);
    this.#ticket = adm.acquire(
      () => {
        this.#ticket = null;
        this.#slot = adm;
        this.#origin = origin;
        this.#dispatch(opts);
      },
      () => {
        this.#ticket = null;
        this.#origin = origin;
        this.#refuse('queue_timeout', 503, 'upstream busy', ['retry-after', '1']);
      },
      this.#ctx.limits.upstreamQueueTimeoutMs,
    );
  }

  #dispatch(opts: Dispatcher.DispatchOptions): void {
    this.#attempts++;
    this.#tSent = now();
    this.#rr.upstream.pool(this.#origin).dispatch(opts, this);
  }

  /** Gives the pool slot back (once per dispatch). */
  #release(): void {
    const slot = this.#slot;
    this.#slot = null;
    slot?.release();
  }

  /** Stops whatever of the upstream side is under way: the queue place, the body, the request. */
  #cancelUpstream(): void {
    this.#ticket?.cancel();
    this.#ticket = null;
    this.#body?.stop();
    if (!this.#upstreamDone && this.#abort !== null) this.#abort(new Error('client request abandoned'));
  }

  /**
   * Disconnects the client mid-response: HTTP/1.1 closes the connection, HTTP/2 resets the stream with
   * `code` (INTERNAL_ERROR when the upstream failed: a client reads a CANCEL reset after the head as a
   * response that ended, not one that was cut off).
   */
  #cutClient(code: number = http2.constants.NGHTTP2_CANCEL): void {
    const res = this.#res as ServerResponse & { stream?: http2.ServerHttp2Stream };
    if (res.stream !== undefined) {
      if (!res.stream.destroyed) res.stream.close(code);
    } else this.#socket.destroy();
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
    if (this.#gone || this.#refused) abort(new Error('client closed the connection'));
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode < 200) return true; // 1xx: undici handles 100-continue; others are not relayed
    const t = now();
    this.#ttfbMs = t - this.#tSent;
    this.#rr.ttfb.observe(this.#ttfbMs / 1000);
    this.#rr.upstream.markUp(this.#origin);
    this.#resume = resume;
    const res = this.#res;
    if (this.#gone || this.#refused) return false; // already aborted
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
    if (this.#gone || this.#refused) return false;
    this.#bodyOut += chunk.length;
    const ok = this.#res.write(chunk);
    if (!ok) {
      // The client is not reading: it gets `sendTimeoutMs` to take something before it is cut off.
      if (this.#sendTimer === null) this.#sendTimer = setTimeout(this.#onSendTimeout, this.#ctx.limits.sendTimeoutMs);
      else this.#sendTimer.refresh();
      this.#res.once('drain', this.#onDrain);
    }
    return ok;
  }

  #onDrain = (): void => {
    if (this.#sendTimer !== null) clearTimeout(this.#sendTimer);
    this.#sendTimer = null;
    if (!this.#gone) this.#resume?.();
  };

  #onSendTimeout = (): void => {
    this.#sendTimer = null;
    if (this.#gone || this.#upstreamDone) return;
    this.#ctx.refused('send_timeout');
    this.#conn.log.info({ reqId: this.#requestId, route: this.#rr.route.name, sendTimeoutMs: this.#ctx.limits.sendTimeoutMs }, 'client not reading; disconnected');
    this.#refused = true;
    this.#cancelUpstream();
    this.#cutClient();
  };

  onComplete(): void {
    this.#upstreamDone = true;
    this.#release();
    if (this.#gone || this.#refused) return;
    this.#res.end();
  }

  onError(err: Error): void {
    this.#upstreamDone = true;
    this.#release();
    const res = this.#res;
    if (this.#gone || this.#refused) return; // the client left or was answered; its close logs the exchange
    const m = mapUpstreamError(err);
    if (this.#rr.upstream.failed(this.#origin, m.connectFailed, this.#attempts) && this.#retry !== null && !res.headersSent) {
      this.#upstreamDone = false;
      this.#admit(this.#retry);
      return;
    }
    this.#rr.countUpstreamError(m.kind);
    this.#conn.log.warn(
      { reqId: this.#requestId, route: this.#rr.route.name, upstream: this.#rr.upstream.origins[this.#origin], kind: m.kind, err },
      'upstream request failed',
    );
    if (!res.headersSent) sendError(res, m.status, this.#requestId, m.status === 504 ? 'upstream timed out' : 'upstream unavailable');
    else this.#cutClient(http2.constants.NGHTTP2_INTERNAL_ERROR); // mid-body failure: the client must see a truncated response, not a complete one
  }

  #onClientClose = (): void => {
    // Gone unless the response ended. An HTTP/2 compat response reports `writableFinished` also for a reset stream
    // (node ends its writable side when it closes), so its stream's close code tells: NO_ERROR only after our end.
    const stream = (this.#res as ServerResponse & { stream?: http2.ServerHttp2Stream }).stream;
    if (stream !== undefined ? stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR : !this.#res.writableFinished) this.#gone = true;
    if (this.#sendTimer !== null) clearTimeout(this.#sendTimer);
    this.#sendTimer = null;
    this.#ticket?.cancel();
    this.#ticket = null;
    this.#body?.stop();
    if (!this.#upstreamDone && this.#abort !== null) this.#abort(new Error('client closed the connection'));
    if (this.#dn !== null) this.#ctx.identities.release(this.#dn);
    this.#dn = null;
    this.#finish();
  };

  #finish(): void {
    if (this.#logged) return;
    this.#logged = true;
    const res = this.#res;
    const status = this.#gone ? 499 : res.statusCode; // 499: client closed before the response ended (nginx's code)
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
