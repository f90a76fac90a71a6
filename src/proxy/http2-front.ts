/**
 * HTTP/2 on the mTLS listener. TLS is already done (and the client verified)
 * when a socket that negotiated `h2` by ALPN arrives here, so this is a plain
 * (non-secure) node:http2 server that is never bound: ProxyServer hands each
 * verified TLSSocket to it, as it does to the HTTP/1.1 server.
 *
 * Requests go through the same RequestHandler as HTTP/1.1 (the compat API's
 * request and response mirror node:http's for everything the request path
 * uses; the few differences are handled where they matter, keyed on
 * `httpVersionMajor === 2`). The identity lives on the TLSSocket, so every
 * stream of a connection carries it. Extended CONNECT (RFC 8441) is offered
 * for WebSockets (src/proxy/h2-websocket.ts); any other CONNECT gets 405.
 *
 * Limits against HTTP/2 abuse: SETTINGS_MAX_CONCURRENT_STREAMS, a header
 * list size (advertised, and enforced here: a larger list gets 431), and rapid reset (CVE-2023-44487): a client that cancels more
 * than `maxStreamResets` streams within `streamResetWindowMs` gets GOAWAY
 * ENHANCE_YOUR_CALM and its connection closed, counted in
 * `ztproxy_http2_sessions_cut_total{reason="rapid_reset"}` and logged.
 */
import { randomUUID } from 'node:crypto';
import http2, { type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { Http2CutReason, Metrics } from '../metrics/index.js';
import { destroyConnection } from './accept-gate.js';
import { connectionOf } from './connection.js';
import type { RequestHandler } from './handler.js';
import { headerListSize } from './header-list.js';
import { sendError } from './respond.js';

export interface Http2Limits {
  readonly maxConcurrentStreams: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE; ztproxy uses `limits.maxHeaderBytes`. */
  readonly maxHeaderBytes: number;
  readonly idleTimeoutMs: number;
  readonly maxStreamResets: number;
  readonly streamResetWindowMs: number;
  /** Streams after which a session gets GOAWAY (graceful), like nginx `keepalive_requests`. */
  readonly maxRequestsPerConnection: number;
}

/** Error codes of protocol violations (as opposed to a peer that just went away). */
const PROTOCOL_ERRORS = new Set(['ERR_HTTP2_ERROR', 'ERR_HTTP2_SESSION_ERROR', 'ERR_HTTP2_TOO_MANY_INVALID_FRAMES', 'ERR_HTTP2_INVALID_SESSION']);

export class Http2Front {
  readonly #server: http2.Http2Server;
  readonly #sessions = new Set<ServerHttp2Session>();
  readonly #cutOff = new WeakSet<ServerHttp2Session>();
  /** The TLS socket under each session (`session.socket` is a proxy that refuses `destroy`); the session of a socket is on its ClientConnection. */
  readonly #socketOf = new WeakMap<ServerHttp2Session, TLSSocket>();
  #accepting: TLSSocket | null = null;
  readonly #limits: Http2Limits;
  readonly #metrics: Metrics;
  readonly #log: Logger;

  constructor(handler: RequestHandler, limits: Http2Limits, metrics: Metrics, log: Logger) {
    this.#limits = limits;
    this.#metrics = metrics;
    this.#log = log;
    this.#server = http2.createServer({
      settings: {
        maxConcurrentStreams: limits.maxConcurrentStreams,
        maxHeaderListSize: limits.maxHeaderBytes,
        enablePush: false,
        enableConnectProtocol: true, // RFC 8441: WebSocket over HTTP/2 (src/proxy/h2-websocket.ts)
      },
      maxHeaderListPairs: 128, // node's default, stated: header fields per request, pseudo-headers included
      maxSessionInvalidFrames: 100,
      maxSessionRejectedStreams: 100,
      maxSessionMemory: 10, // MiB, node's default
    });
    this.#server.setTimeout(limits.idleTimeoutMs);
    this.#server.on('session', this.#onSession);
    this.#server.on('sessionError', this.#onSessionError);
    // The compat objects stand in for node:http's: see the module comment.
    this.#server.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => {
      if (req.stream.destroyed) return; // reset before we got to it: nothing to answer, nothing to forward
      if (headerListSize(req.rawHeaders) > limits.maxHeaderBytes) {
        // The advertised SETTINGS_MAX_HEADER_LIST_SIZE, held like HTTP/1.1's maxHeaderSize (431, nothing forwarded).
        sendError(res as unknown as ServerResponse, 431, randomUUID());
        return;
      }
      handler.onRequest(req as unknown as IncomingMessage, res as unknown as ServerResponse);
    });
    this.#server.on('connect', (req: Http2ServerRequest, res: Http2ServerResponse) => {
      if (req.stream.destroyed) return;
      if (req.headers[':protocol'] !== undefined) {
        handler.onExtendedConnect(req as unknown as IncomingMessage, res as unknown as ServerResponse);
        return;
      }
      res.writeHead(405, { allow: 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS', 'content-length': '0' });
      res.end();
    });
  }

  /** Takes over a verified TLS socket that negotiated `h2`. */
  accept(socket: TLSSocket): void {
    this.#accepting = socket; // node emits 'session' synchronously from 'connection'
    try {
      this.#server.emit('connection', socket);
    } finally {
      this.#accepting = null;
    }
  }

  /** GOAWAY to every session: streams in flight finish, no new ones start, each session closes when idle. */
  close(): void {
    for (const s of this.#sessions) if (!s.closed && !s.destroyed) s.close();
  }

  /** Destroys every session and its connection now (the end of a drain). */
  destroy(): void {
    for (const s of this.#sessions) {
      const socket = this.#socketOf.get(s);
      if (!s.destroyed) s.destroy();
      if (socket !== undefined) destroyConnection(socket);
    }
  }

  /**
   * GOAWAY to the session on `socket`. `graceful`: streams in flight finish,
   * then the session closes (connection age, request count). Otherwise (a
   * revoked client) the session, its streams and the connection end right
   * behind the GOAWAY frame (see {@link Http2Front.#kill}).
   */
  goaway(socket: TLSSocket, graceful: boolean): void {
    const session = connectionOf(socket)?.h2Session ?? undefined;
    if (session === undefined || session.destroyed) {
      if (!graceful) destroyConnection(socket);
      return;
    }
    if (graceful) {
      if (!session.closed) session.close();
      return;
    }
    this.#kill(session, socket, http2.constants.NGHTTP2_CANCEL);
  }

  #onSession = (session: ServerHttp2Session): void => {
    this.#sessions.add(session);
    const socket = this.#accepting;
    if (socket !== null) {
      this.#socketOf.set(session, socket);
      const conn = connectionOf(socket);
      if (conn !== undefined) conn.h2Session = session;
    }
    session.once('close', () => this.#sessions.delete(session));
    const { maxStreamResets, streamResetWindowMs, maxRequestsPerConnection } = this.#limits;
    let windowStart = performance.now();
    let resets = 0;
    let streams = 0;
    session.on('stream', (stream: ServerHttp2Stream) => {
      // The last stream allowed is served; GOAWAY tells the client to open a new connection for more.
      if (++streams === maxRequestsPerConnection && !session.closed) session.close();
      // 'aborted': the client reset the stream before the response ended.
      stream.once('aborted', () => {
        const t = performance.now();
        if (t - windowStart > streamResetWindowMs) {
          windowStart = t;
          resets = 0;
        }
        if (++resets > maxStreamResets) this.#cut(session, 'rapid_reset', { resets, windowMs: streamResetWindowMs });
      });
    });
  };

  #onSessionError = (err: Error & { code?: string }, session: ServerHttp2Session): void => {
    if (err.code !== undefined && PROTOCOL_ERRORS.has(err.code)) this.#cut(session, 'protocol_error', { err });
    else this.#log.debug({ err }, 'http2 session error');
  };

  #cut(session: ServerHttp2Session, reason: Http2CutReason, extra: Record<string, unknown>): void {
    const socket = this.#socketOf.get(session);
    if (this.#cutOff.has(session)) return;
    this.#cutOff.add(session);
    this.#metrics.http2SessionsCut.inc({ reason });
    const log = connectionOf(socket)?.log ?? this.#log;
    log.warn({ reason, ...extra }, 'http2 session cut off');
    this.#kill(session, socket, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  }

  /**
   * GOAWAY `code`, then the session and its connection destroyed. GOAWAY goes first, on its own:
   * `session.destroy()` right behind it tears nghttp2 down before the frame is written, and only
   * `end()`s the socket, which a peer that keeps sending (or never reads) holds open.
   */
  #kill(session: ServerHttp2Session, socket: TLSSocket | undefined, code: number): void {
    if (!session.destroyed && !session.closed) session.goaway(code);
    const kill = () => {
      if (!session.destroyed) session.destroy();
      if (socket !== undefined) destroyConnection(socket);
    };
    // One turn of the event loop lets the GOAWAY out; the fallback closes the connection whatever happens.
    setTimeout(kill, 50).unref();
    setTimeout(kill, 1000).unref();
  }
}
