/**
 * The request path: target checks, routing, identity policy, header
 * rewrite, forwarding. Runs once per request, so it does no I/O of its own
 * and reads everything per-connection from the ClientConnection.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Metrics, RefusedReason } from '../metrics/index.js';
import { IdentityLimiter } from './admission.js';
import { connectionOf, type ClientConnection } from './connection.js';
import { Exchange, type ExchangeContext } from './forward.js';
import { upstreamRequestHeaders } from './headers.js';
import type { Target } from './exchange.js';
import { sendError, sendRawError } from './respond.js';
import { upgradeProblem, UpgradeExchange } from './upgrade.js';
import { extendedConnectProblem, H2WebSocketExchange } from './h2-websocket.js';
import type { Runtime } from './runtime.js';

const REQUEST_ID = /^[A-Za-z0-9._:+/=-]{1,128}$/;

/**
 * The request's authority: Host on HTTP/1.1; `:authority` (or Host) on
 * HTTP/2, where both present and different is malformed (RFC 9113 §8.3.1)
 * and gives '' (answered 400).
 */
export function authorityOf(req: IncomingMessage): string | undefined {
  const a = req.headers[':authority'];
  if (typeof a !== 'string') return req.headers.host;
  const h = req.headers.host;
  return h === undefined || h === a ? a : '';
}

export class RequestHandler {
  readonly #runtime: () => Runtime;
  readonly #log: Logger;
  /** Requests in flight per subject DN, across config generations. */
  readonly identities = new IdentityLimiter();
  readonly #refused: (reason: RefusedReason) => void;
  /** Exchange settings of the runtime they were made for (one object per config, not per request). */
  #ctxRuntime: Runtime | null = null;
  #ctx: ExchangeContext | null = null;

  constructor(runtime: () => Runtime, log: Logger, metrics: Metrics) {
    this.#runtime = runtime;
    this.#log = log;
    this.#refused = (reason) => metrics.requestsRefused.inc({ reason });
  }

  #exchangeContext(rt: Runtime): ExchangeContext {
    if (rt !== this.#ctxRuntime || this.#ctx === null) {
      this.#ctxRuntime = rt;
      // No record is built for a line the logger's level would drop.
      this.#ctx = { accessLog: rt.config.log.access && this.#log.isLevelEnabled('info'), limits: rt.config.limits, identities: this.identities, refused: this.#refused };
    }
    return this.#ctx;
  }

  /**
   * Checks the target and policy of `req`. Answers the error itself (and
   * returns null) when the request must not go upstream.
   */
  #resolve(req: IncomingMessage, t0: number, rt: Runtime, conn: ClientConnection, fail: (status: number, requestId: string, message?: string) => void): Target | null {
    const inboundId = req.headers['x-request-id'];
    const requestId = typeof inboundId === 'string' && REQUEST_ID.test(inboundId) ? inboundId : randomUUID();
    // RFC 9112 §3.2: more than one Host is a 400. Node keeps only the first, which the SNI check would then trust.
    let hosts = 0;
    for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.length === 4 && req.rawHeaders[i]!.toLowerCase() === 'host') hosts++;
    if (hosts > 1) {
      fail(400, requestId, 'more than one Host header');
      return null;
    }
    const m = rt.router.resolve(authorityOf(req), req.url ?? '', conn.sni);
    if (m.kind !== 'route') {
      if (m.kind === 'bad_request') fail(400, requestId, m.reason);
      else fail(m.kind === 'misdirected' ? 421 : 404, requestId);
      return null;
    }
    const path = m.path;
    const rr = rt.routeRuntime(m.route);
    const d = conn.decision(rt, m.route.index);
    if (!d.allowed) {
      rr.denied.inc();
      rr.countRequest(403);
      conn.log.warn({ reqId: requestId, route: m.route.name, dn: conn.identity.subjectDN, rule: d.rule, method: req.method, path }, 'request denied by identity policy');
      fail(403, requestId);
      return null;
    }
    const headers = upstreamRequestHeaders(
      req.rawHeaders,
      { host: m.authority, requestId, remoteAddress: conn.remoteAddress, identity: conn.identityHeaders(rt) },
      rt.identityNames,
    );
    return { req, conn, t0, host: m.host, authority: m.authority, path, rr, requestId, headers };
  }

  /** The 'request' listener of the HTTP server. */
  onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    try {
      this.#handle(req, res);
    } catch (err) {
      // A bug must cost one request, never the process.
      this.#log.error({ err, method: req.method }, 'request handler failed');
      if (!res.headersSent) sendError(res, 500, 'unknown', 'internal error', true);
      else res.destroy();
    }
  };

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const t0 = performance.now();
    const conn = connectionOf(req.socket);
    if (conn === undefined) {
      // Unreachable: only verified connections are handed to HTTP. Refuse rather than forward without identity.
      req.socket.destroy();
      return;
    }
    if (conn.closing && req.httpVersionMajor === 1) {
      // Pipelined behind a response that closes the connection: never parsed into an upstream request.
      conn.log.debug({ method: req.method }, 'request after connection close dropped');
      return;
    }
    const rt = this.#runtime();
    const target = this.#resolve(req, t0, rt, conn, (status, id, message) => {
      const close = status === 400;
      if (close && req.httpVersionMajor === 1) conn.closeAfterResponse();
      sendError(res, status, id, message, close);
    });
    if (target === null) return;
    const hasBody =
      req.httpVersionMajor === 2
        ? !(req as unknown as { stream: { endAfterHeaders: boolean } }).stream.endAfterHeaders // HTTP/2: a body needs no length header
        : req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
    new Exchange(target, res, this.#exchangeContext(rt)).start(hasBody);
  }

  /**
   * The 'upgrade' listener (WebSocket and any other Upgrade on HTTP/1.1):
   * the same target checks and policy as a request, then a tunnel to the
   * upstream (src/proxy/upgrade.ts). Refusals are answered on the raw socket.
   */
  onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    try {
      const t0 = performance.now();
      const conn = connectionOf(req.socket);
      if (conn === undefined) {
        socket.destroy();
        return;
      }
      if (conn.closing) {
        socket.end(); // pipelined behind a response that closes the connection (end: that response is flushed first)
        return;
      }
      const rt = this.#runtime();
      const fail = (status: number, id: string, message?: string) => {
        conn.closeAfterResponse();
        sendRawError(socket, status, id, message);
      };
      const target = this.#resolve(req, t0, rt, conn, fail);
      if (target === null) return;
      const problem = upgradeProblem(req);
      if (problem !== null) {
        target.rr.countRequest(400);
        fail(400, target.requestId, problem);
        return;
      }
      const ctx = { accessLog: this.#exchangeContext(rt).accessLog, idleTimeoutMs: rt.config.limits.upgradeIdleTimeoutMs };
      new UpgradeExchange(target, head, ctx).start();
    } catch (err) {
      this.#log.error({ err, method: req.method }, 'upgrade handler failed');
      socket.destroy();
    }
  };

  /**
   * An HTTP/2 extended CONNECT (RFC 8441, `:protocol` set): the same target
   * checks and policy as a request, then a WebSocket bridged to an
   * HTTP/1.1 Upgrade upstream (src/proxy/h2-websocket.ts).
   */
  onExtendedConnect = (req: IncomingMessage, res: ServerResponse): void => {
    try {
      const t0 = performance.now();
      const conn = connectionOf(req.socket);
      if (conn === undefined) {
        req.socket.destroy();
        return;
      }
      const rt = this.#runtime();
      const target = this.#resolve(req, t0, rt, conn, (status, id, message) => sendError(res, status, id, message));
      if (target === null) return;
      const problem = extendedConnectProblem(req);
      if (problem !== null) {
        target.rr.countRequest(400);
        sendError(res, 400, target.requestId, problem);
        return;
      }
      const limits = rt.config.limits;
      const ctx = { accessLog: this.#exchangeContext(rt).accessLog, idleTimeoutMs: limits.upgradeIdleTimeoutMs, sessionIdleTimeoutMs: limits.idleTimeoutMs };
      new H2WebSocketExchange(target, res, ctx).start();
    } catch (err) {
      this.#log.error({ err, method: req.method }, 'extended CONNECT handler failed');
      if (!res.headersSent) sendError(res, 500, 'unknown', 'internal error');
      else res.destroy();
    }
  };

  /** The 'connect' listener: ztproxy never tunnels. */
  onConnect = (req: IncomingMessage, socket: Duplex): void => {
    this.#log.debug({ method: 'CONNECT', target: req.url }, 'connect refused');
    socket.end('HTTP/1.1 405 Method Not Allowed\r\nallow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
  };
}
