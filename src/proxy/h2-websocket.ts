/**
 * WebSocket over HTTP/2 (RFC 8441): an extended CONNECT with
 * `:protocol: websocket`, after mTLS and the route's policy (the same
 * checks as any request), becomes an ordinary HTTP/1.1 Upgrade to the
 * upstream through the route's undici Pool: GET, `Upgrade: websocket`, a
 * `Sec-WebSocket-Key` made here, `Sec-WebSocket-Version: 13`, the identity
 * headers (spoofed ones stripped). The upstream's 101 must carry the
 * matching `Sec-WebSocket-Accept` (else 502); the client then gets 200 on
 * its stream and the stream's DATA carries the frames both ways until
 * either side ends or nothing moves for `limits.upgradeIdleTimeoutMs`.
 * While a tunnel is open its HTTP/2 session's idle timeout is suspended
 * (the tunnel's own idle limit applies), as an upgraded HTTP/1.1
 * connection leaves the keep-alive timeout behind.
 *
 * An upstream that refuses the upgrade has its answer relayed on the
 * stream; failures map to 502/504 like plain requests. An established
 * tunnel counts as `code="101"` (the upstream's answer, as on HTTP/1.1; the
 * client sees 200 as RFC 8441 requires) and is logged as one access line,
 * `httpVersion: "2.0"`, `upgrade: "websocket"`, when the stream closes.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import http2, { type Http2Session, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { UpstreamExchange, type Target } from './exchange.js';
import { downstreamResponseHeaders } from './headers.js';
import { sendError } from './respond.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Client headers replaced by the proxy's own on the upstream Upgrade. */
const CLIENT_HANDSHAKE = new Set(['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-accept']);
/** Headers of the upstream's 101 that concern the HTTP/1.1 hop only (and may not appear in HTTP/2). */
const SWITCH_DROP = new Set(['connection', 'upgrade', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'content-length', 'sec-websocket-accept', 'x-request-id']);

/** Why an extended CONNECT is refused before it goes upstream (400), or null. */
export function extendedConnectProblem(req: IncomingMessage): string | null {
  const protocol = req.headers[':protocol'];
  if (typeof protocol !== 'string' || protocol.toLowerCase() !== 'websocket') return 'only :protocol websocket is proxied over HTTP/2';
  const version = req.headers['sec-websocket-version'];
  if (version !== undefined && version !== '13') return 'unsupported Sec-WebSocket-Version (13 only)';
  return null;
}

export interface H2WebSocketContext {
  readonly accessLog: boolean;
  /** `limits.upgradeIdleTimeoutMs`. */
  readonly idleTimeoutMs: number;
  /** `limits.idleTimeoutMs`: the session's idle timeout, restored when its last tunnel closes. */
  readonly sessionIdleTimeoutMs: number;
}

/** Open tunnels per session (the session's idle timeout is off while there is one). */
const tunnels = new WeakMap<Http2Session, number>();

/** Suspends `session`'s idle timeout while the tunnel lives; the returned function restores it (once) after the last tunnel. */
function holdSession(session: Http2Session | undefined, idleMs: number): () => void {
  if (session === undefined || session.destroyed) return () => {};
  const n = tunnels.get(session) ?? 0;
  tunnels.set(session, n + 1);
  if (n === 0) session.setTimeout(0);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const left = (tunnels.get(session) ?? 1) - 1;
    tunnels.set(session, left);
    if (left === 0 && !session.destroyed && !session.closed) session.setTimeout(idleMs);
  };
}

export class H2WebSocketExchange extends UpstreamExchange {
  readonly #res: ServerResponse;
  readonly #stream: ServerHttp2Stream;
  readonly #ctx: H2WebSocketContext;
  readonly #key = randomBytes(16).toString('base64');
  #tunnel = false;
  /** Dispatches the Upgrade again (on the next address). */
  #retry: () => void = () => {};
  #upstream: Duplex | null = null;
  #resume: (() => void) | null = null;
  #release: (() => void) | null = null;
  #bytesIn = 0;
  #bytesOut = 0;

  constructor(target: Target, res: ServerResponse, ctx: H2WebSocketContext) {
    super(target, ctx.accessLog);
    this.#res = res;
    this.#stream = (target.req as unknown as { stream: ServerHttp2Stream }).stream;
    this.#ctx = ctx;
    this.#stream.on('error', () => this.#stream.destroy());
    this.#stream.once('close', this.#onStreamClose);
  }

  protected clientGone(): boolean {
    return this.#stream.destroyed;
  }

  /** Sends the Upgrade upstream with the target's headers, the client's WebSocket handshake replaced by the proxy's. */
  start(): void {
    const headers = this.target.headers;
    const out: string[] = [];
    for (let i = 0; i < headers.length; i += 2) if (!CLIENT_HANDSHAKE.has(headers[i]!.toLowerCase())) out.push(headers[i]!, headers[i + 1]!);
    out.push('sec-websocket-key', this.#key, 'sec-websocket-version', '13');
    const opts: Dispatcher.DispatchOptions = { method: 'GET', path: this.target.path, headers: out, body: null, upgrade: 'websocket' };
    this.#retry = () => this.dispatchNext(opts);
    this.#retry();
  }

  onUpgrade(statusCode: number, rawHeaders: Buffer[] | string[] | null, upstream: Duplex): void {
    const stream = this.#stream;
    this.#upstream = upstream;
    upstream.on('error', () => upstream.destroy());
    if (stream.destroyed) {
      this.markAnswered(statusCode);
      upstream.destroy();
      return;
    }
    const raw = rawHeaders ?? [];
    const headers: Record<string, string | string[]> = {};
    let accept: string | null = null;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toString().toLowerCase();
      const value = raw[i + 1]!.toString();
      if (name === 'sec-websocket-accept') accept = value;
      if (SWITCH_DROP.has(name)) continue;
      const prev = headers[name];
      headers[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
    }
    if (accept !== createHash('sha1').update(this.#key + GUID).digest('base64')) {
      upstream.destroy();
      this.markAnswered(502);
      this.rr.countUpstreamError('other');
      this.conn.log.warn({ reqId: this.requestId, route: this.rr.route.name, upstream: this.upstreamOrigin }, 'upstream websocket handshake with a wrong accept key');
      sendError(this.#res, 502, this.requestId, 'upstream WebSocket handshake failed');
      return;
    }
    this.markAnswered(statusCode);
    this.#tunnel = true;
    stream.respond({ ...headers, ':status': 200, 'x-request-id': this.requestId });
    this.#release = holdSession(stream.session, this.#ctx.sessionIdleTimeoutMs);
    const idle = this.#ctx.idleTimeoutMs;
    const onIdle = () => {
      this.conn.log.debug({ reqId: this.requestId, idleTimeoutMs: idle }, 'WebSocket stream idle, closed');
      stream.close(http2.constants.NGHTTP2_CANCEL);
      upstream.destroy();
    };
    stream.setTimeout(idle, onIdle);
    (upstream as Socket).setTimeout?.(idle, onIdle);
    stream.on('data', (c: Buffer) => (this.#bytesIn += c.length));
    upstream.on('data', (c: Buffer) => (this.#bytesOut += c.length));
    // The upstream gone: after a clean end (END_STREAM sent by the pipe) the client's half is closed with
    // RST_STREAM NO_ERROR (RFC 9113 §8.1), as an HTTP/1.1 client's connection is closed; after a reset, CANCEL.
    upstream.once('close', () => {
      if (!stream.destroyed) stream.close(stream.writableEnded ? http2.constants.NGHTTP2_NO_ERROR : http2.constants.NGHTTP2_CANCEL);
    });
    stream.pipe(upstream);
    upstream.pipe(stream);
  }

  // A refused upgrade: the upstream answered with a plain response, relayed as such.
  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true;
    this.markAnswered(statusCode);
    this.#resume = resume;
    if (this.#stream.destroyed) return true;
    const flat = downstreamResponseHeaders(rawHeaders, this.requestId);
    const headers: Record<string, string | string[]> = {};
    for (let i = 0; i < flat.length; i += 2) {
      const name = flat[i]!.toLowerCase();
      const prev = headers[name];
      headers[name] = prev === undefined ? flat[i + 1]! : Array.isArray(prev) ? [...prev, flat[i + 1]!] : [prev, flat[i + 1]!];
    }
    this.#stream.respond({ ...headers, ':status': statusCode });
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#stream.destroyed) return true;
    const ok = this.#stream.write(chunk);
    if (!ok && this.#resume !== null) this.#stream.once('drain', this.#resume);
    return ok;
  }

  onComplete(): void {
    if (!this.#stream.destroyed) this.#stream.end();
  }

  onError(err: Error): void {
    const stream = this.#stream;
    this.tunnelFailed(err, this.#retry, (status, message) => sendError(this.#res, status, this.requestId, message), () => stream.close(http2.constants.NGHTTP2_CANCEL));
  }

  #onStreamClose = (): void => {
    this.#release?.();
    this.#release = null;
    this.tunnelClosed(this.#upstream, { upgrade: 'websocket', bytesIn: this.#tunnel ? this.#bytesIn : 0, bytesOut: this.#tunnel ? this.#bytesOut : 0 });
  };
}
