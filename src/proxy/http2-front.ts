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
 * stream of a connection carries it.
 *
 * Limits against HTTP/2 abuse: SETTINGS_MAX_CONCURRENT_STREAMS, a header
 * list size, and rapid reset (CVE-2023-44487): a client that cancels more
 * than `maxStreamResets` streams within `streamResetWindowMs` gets GOAWAY
 * ENHANCE_YOUR_CALM and its connection closed, counted in
 * `ztproxy_http2_sessions_cut_total{reason="rapid_reset"}` and logged.
 */
import http2, { type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { Http2CutReason, Metrics } from '../metrics/index.js';
import { kConnection, type ConnectionSocket, type RequestHandler } from './handler.js';

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
  /** The TLS socket under each session (`session.socket` is a proxy that refuses `destroy`). */
  readonly #socketOf = new WeakMap<ServerHttp2Session, TLSSocket>();
  readonly #sessionOf = new WeakMap<TLSSocket, ServerHttp2Session>();
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
      handler.onRequest(req as unknown as IncomingMessage, res as unknown as ServerResponse);
    });
    this.#server.on('connect', (_req: Http2ServerRequest, res: Http2ServerResponse) => {
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

  /** Open sessions. */
  get size(): number {
    return this.#sessions.size;
  }

  /** GOAWAY to every session: streams in flight finish, no new ones start, each session closes when idle. */
  close(): void {
    for (const s of this.#sessions) if (!s.closed && !s.destroyed) s.close();
  }

  /**
   * GOAWAY to the session on `socket`. `graceful`: streams in flight finish,
   * then the session closes (connection age, request count). Otherwise (a
   * revoked client) the session and its streams end now and the socket is
   * destroyed behind the GOAWAY frame, at the latest after 250 ms.
   */
  goaway(socket: TLSSocket, graceful: boolean): void {
    const session = this.#sessionOf.get(socket);
    if (session === undefined || session.destroyed) {
      if (!graceful) socket.destroy();
      return;
    }
    if (graceful) {
      if (!session.closed) session.close();
      return;
    }
    session.goaway(http2.constants.NGHTTP2_CANCEL);
    session.destroy();
    setTimeout(() => socket.destroy(), 250).unref();
  }

  #onSession = (session: ServerHttp2Session): void => {
    this.#sessions.add(session);
    if (this.#accepting !== null) {
      this.#socketOf.set(session, this.#accepting);
      this.#sessionOf.set(this.#accepting, session);
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
    const socket = this.#socketOf.get(session) as (TLSSocket & ConnectionSocket) | undefined;
    if (this.#cutOff.has(session)) return;
    this.#cutOff.add(session);
    this.#metrics.http2SessionsCut.inc({ reason });
    const log = socket?.[kConnection]?.log ?? this.#log;
    log.warn({ reason, ...extra }, 'http2 session cut off');
    if (!session.destroyed) {
      session.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
      session.destroy();
    }
    // GOAWAY is queued; the socket closes behind it. A peer that never closes its side must not keep it open.
    if (socket !== undefined) setTimeout(() => socket.destroy(), 1000).unref();
  }
}
