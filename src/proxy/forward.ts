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
import { roundMs, upstreamErrorMessage, UpstreamExchange, type Target } from './exchange.js';
import { downstreamResponseHeaders } from './headers.js';
import { RequestBody } from './request-body.js';
import { sendError } from './respond.js';
import { ZtpError } from '../util/index.js';

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

export class Exchange extends UpstreamExchange {
  readonly #res: ServerResponse;
  readonly #ctx: ExchangeContext;
  /** Kept here: `req.socket` is null once the response has detached from it. */
  readonly #socket: IncomingMessage['socket'];
  readonly #bytesIn0: number;
  readonly #bytesOut0: number;
  /** Response body bytes relayed: the byte count of an HTTP/2 stream (its connection's counters are shared by all streams). */
  #bodyOut = 0;
  #tSent = 0;
  #ttfbMs = -1;
  #resume: (() => void) | null = null;
  #upstreamDone = false;
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

  constructor(target: Target, res: ServerResponse, ctx: ExchangeContext) {
    super(target, ctx.accessLog);
    this.#res = res;
    this.#ctx = ctx;
    this.#socket = target.req.socket;
    this.#bytesIn0 = this.#socket.bytesRead;
    this.#bytesOut0 = this.#socket.bytesWritten;
    res.on('close', this.#onClientClose); // 'close' is emitted once; `on` spares the once-wrapper
  }

  protected clientGone(): boolean {
    return this.#gone || this.#refused;
  }

  /** Sends the request upstream; `hasBody`: the client request has a body, read from it. */
  start(hasBody: boolean): void {
    const { limits, identities } = this.#ctx;
    const dn = this.conn.identity.subjectDN;
    const opts: Dispatcher.DispatchOptions = { method: this.req.method as 'GET', path: this.target.path, headers: this.target.headers, body: null };
    if (!identities.tryAcquire(dn, limits.maxConcurrentPerIdentity)) {
      this.#refuse('identity_limit', 429, 'too many concurrent requests for this identity', ['retry-after', '1']);
      return;
    }
    this.#dn = dn;
    if (!hasBody) {
      this.#retry = opts;
      this.#admit(opts);
      return;
    }
    this.#body = new RequestBody(this.req, limits.requestBufferBytes, limits.bodyTimeoutMs, {
      whole: (buf) => {
        this.#retry = { ...opts, body: buf }; // read whole: may be tried on another address after a connect failure
        this.#admit(this.#retry);
      },
      streaming: (stream: Readable) => this.#admit({ ...opts, body: stream }),
      incomplete: () => {
        if (this.#gone || this.#refused) return;
        this.#ctx.refused('body_incomplete');
        this.#refused = true;
        this.conn.log.info({ reqId: this.requestId, route: this.rr.route.name }, 'request body incomplete; upstream request aborted');
        this.#cancelUpstream();
        if (!this.#res.headersSent) sendError(this.#res, 400, this.requestId, 'request body incomplete', true);
        else this.#cutClient();
      },
      timedOut: () => {
        if (this.#gone || this.#refused) return;
        this.#ctx.refused('body_timeout');
        this.#refused = true;
        this.conn.log.info({ reqId: this.requestId, route: this.rr.route.name, bodyTimeoutMs: limits.bodyTimeoutMs }, 'request body timed out; upstream request aborted');
        this.#cancelUpstream();
        if (!this.#res.headersSent) sendError(this.#res, 408, this.requestId, 'request body timed out', true);
        else this.#cutClient();
      },
    });
  }

  /** Answers the request without the upstream, counted under `reason`. */
  #refuse(reason: RefusedReason, status: number, message: string, headers: string[] = []): void {
    this.#refused = true;
    this.#ctx.refused(reason);
    this.conn.log.info({ reqId: this.requestId, route: this.rr.route.name, dn: this.conn.identity.subjectDN, reason, status }, 'request refused');
    this.#body?.stop();
    sendError(this.#res, status, this.requestId, message, true, headers);
  }

  /** Waits for a slot of the next address's pool, then dispatches; 503 after `upstreamQueueTimeoutMs`. */
  #admit(opts: Dispatcher.DispatchOptions): void {
    if (this.#gone || this.#refused) return;
    const up = this.rr.upstream;
    const origin = up.pick();
    const adm = up.admission(origin);
    this.#ticket = adm.acquire(
      () => {
        this.#ticket = null;
        this.#slot = adm;
        this.#tSent = now();
        this.dispatchTo(origin, opts);
      },
      () => {
        this.#ticket = null;
        this.origin = origin;
        this.#refuse('queue_timeout', 503, 'upstream busy', ['retry-after', '1']);
      },
      this.#ctx.limits.upstreamQueueTimeoutMs,
    );
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
    if (!this.#upstreamDone) this.abortUpstream('client request abandoned');
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

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode < 200) return true; // 1xx: undici handles 100-continue; others are not relayed
    const t = now();
    this.#ttfbMs = t - this.#tSent;
    this.rr.ttfb.observe(this.#ttfbMs / 1000);
    this.rr.upstream.markUp(this.origin);
    this.#resume = resume;
    const res = this.#res;
    if (this.#gone || this.#refused) return false; // already aborted
    // A malformed head is thrown: undici aborts the upstream request and calls onError, which answers 502.
    if (!REASON_PHRASE.test(statusText)) throw new ZtpError('ZTP_UPSTREAM_RESPONSE', 'upstream reason phrase has control bytes', { httpStatus: 502 });
    // HTTP/2 has no reason phrase (node warns when given one).
    const reason = this.req.httpVersionMajor === 2 ? undefined : statusText || undefined;
    try {
      res.writeHead(statusCode, reason, downstreamResponseHeaders(rawHeaders, this.requestId));
    } catch (cause) {
      throw new ZtpError('ZTP_UPSTREAM_RESPONSE', `upstream response head cannot be relayed over HTTP/${this.req.httpVersion}`, { cause, httpStatus: 502 });
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
    this.conn.log.info({ reqId: this.requestId, route: this.rr.route.name, sendTimeoutMs: this.#ctx.limits.sendTimeoutMs }, 'client not reading; disconnected');
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
    const retry = this.#retry;
    const again = () => {
      this.#upstreamDone = false;
      this.#admit(retry!);
    };
    const m = this.upstreamFailed(err, false, retry !== null && !res.headersSent ? again : null);
    if (m === null) return;
    if (!res.headersSent) sendError(res, m.status, this.requestId, upstreamErrorMessage(m));
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
    if (!this.#upstreamDone) this.abortUpstream();
    if (this.#dn !== null) this.#ctx.identities.release(this.#dn);
    this.#dn = null;
    this.#finish();
  };

  #finish(): void {
    if (!this.firstEnd()) return;
    const status = this.#gone ? 499 : this.#res.statusCode; // 499: client closed before the response ended (nginx's code)
    const durationMs = now() - this.target.t0;
    this.rr.countRequest(status);
    this.rr.duration.observe(durationMs / 1000);
    const h2 = this.req.httpVersionMajor === 2;
    const sock = this.#socket;
    this.logAccess({
      status,
      bytesIn: h2 ? null : sock.bytesRead - this.#bytesIn0,
      bytesOut: h2 ? this.#bodyOut : sock.bytesWritten - this.#bytesOut0,
      ttfbMs: this.#ttfbMs < 0 ? null : roundMs(this.#ttfbMs),
      durationMs,
    });
  }
}
