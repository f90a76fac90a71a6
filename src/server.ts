/**
 * Composition root and lifecycle of one serving process: start, reload,
 * drain, stop.
 *
 * Accept path: tls.Server does the handshake with `requestCert: true`,
 * `rejectUnauthorized: true` and the client-CA bundle and CRL.
 *
 * - A client that sends no certificate is refused by OpenSSL inside the
 *   handshake (SSL_VERIFY_FAIL_IF_NO_PEER_CERT): alert certificate_required
 *   (116) under TLS 1.3, handshake_failure (40) under TLS 1.2, before any
 *   application data; 'tlsClientError' reports it.
 * - A certificate that fails verification cannot get its alert: Node's
 *   OpenSSL verify callback accepts every chain so the handshake completes,
 *   and Node destroys the socket right after it (docs/protocols.md). Node
 *   then reports it through 'tlsClientError' with `authorizationError` set,
 *   the exact OpenSSL verify error for the metrics.
 * - What OpenSSL cannot be told (tls.verifyDepth, a CA certificate as the
 *   client certificate) is checked in 'secureConnection'; such sockets are
 *   destroyed before they are handed to HTTP.
 *
 * Nothing from an unverified client is ever parsed, let alone forwarded.
 */
import { constants, randomBytes, X509Certificate } from 'node:crypto';
import http from 'node:http';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import type { ResolvedConfig } from './config/index.js';
import { AccessLog } from './log/access-log.js';
import { HandshakeFailureLog } from './log/handshake-failure-log.js';
import type { Metrics } from './metrics/index.js';
import { ClientConnection } from './proxy/connection.js';
import { ConnectionLifetime, SWEEP_INTERVAL_MS } from './proxy/connection-lifetime.js';
import { destroyConnection, Http2Front } from './proxy/http2-front.js';
import { kConnection, RequestHandler, type ConnectionSocket } from './proxy/handler.js';
import { Runtime } from './proxy/runtime.js';
import { chainViolation, handshakeAbortReason, handshakeErrorReason, IdentityCache, loadTlsMaterial, PeerRecheck, verifyFailureReason, type RecheckFailure, type TlsMaterial } from './tls/index.js';
import type { HandshakeAbortReason, HandshakeFailureReason } from './metrics/index.js';
import { HANDSHAKE_ABORTED_MSG, HANDSHAKE_ABORTED_SUPPRESSED_MSG } from './log/handshake-failure-log.js';

const kAcceptedAt = Symbol('ztproxy.acceptedAt');
type AcceptedSocket = Socket & { [kAcceptedAt]?: number };

/** The TCP socket under a server-side TLSSocket (Node keeps it as `_parent`). */
function rawSocketOf(s: tls.TLSSocket): AcceptedSocket | undefined {
  return (s as unknown as { _parent?: AcceptedSocket })._parent;
}

export interface ProxyServerDeps {
  readonly log: Logger;
  readonly metrics: Metrics;
  /**
   * TLS session ticket keys (48 bytes) shared by all workers, so a client
   * resumes on any of them. Default: random per process and per reload.
   * Used only with `tls.sessionResumption: true`.
   */
  readonly ticketKeys?: Buffer;
}

export class ProxyServer {
  #config: ResolvedConfig;
  #runtime: Runtime;
  #material: TlsMaterial;
  readonly #log: Logger;
  readonly #access: AccessLog;
  readonly #metrics: Metrics;
  readonly #tls: tls.Server;
  readonly #http: http.Server;
  readonly #h2: Http2Front;
  readonly #handshakeLog: HandshakeFailureLog;
  /** Debug lines of handshakes the client abandoned (browsers do it on every fresh visit). */
  readonly #abortLog: HandshakeFailureLog;
  readonly #sockets = new Set<tls.TLSSocket>();
  /** Identities by certificate: connections presenting the same one share it (parsed once). */
  readonly #identities = new IdentityCache();
  /** The success series, bound once: prom-client's label lookups on every handshake were 3.5 % of a handshake profile. */
  readonly #handshakeOk: { inc(): void };
  readonly #handshakeOkDuration: { observe(seconds: number): void };
  #nextConnId = 0;
  readonly #connPrefix = randomBytes(3).toString('hex');
  #closing: Promise<void> | null = null;
  readonly #lifetime: ConnectionLifetime;
  readonly #sweep: NodeJS.Timeout;
  /** The recheck of the material of the last reload, and when it was applied (performance.now()). */
  #recheck: PeerRecheck | null = null;
  #reloadedAt = -Infinity;
  /** Connections closed for their certificate (an HTTP/2 one lingers up to 250 ms behind its GOAWAY): counted once. */
  readonly #revoked = new WeakSet<tls.TLSSocket>();

  private constructor(config: ResolvedConfig, material: TlsMaterial, deps: ProxyServerDeps) {
    this.#config = config;
    this.#material = material;
    this.#log = deps.log;
    this.#access = new AccessLog(deps.log);
    this.#metrics = deps.metrics;
    this.#handshakeOk = deps.metrics.handshakes.labels({ result: 'ok', reason: '' });
    this.#handshakeOkDuration = deps.metrics.handshakeDuration.labels({ result: 'ok' });
    this.#runtime = new Runtime(config, deps.metrics);
    this.#handshakeLog = new HandshakeFailureLog(deps.log);
    this.#handshakeLog.startAutoFlush();
    this.#abortLog = new HandshakeFailureLog(deps.log, { level: 'debug', message: HANDSHAKE_ABORTED_MSG, summaryMessage: HANDSHAKE_ABORTED_SUPPRESSED_MSG });
    this.#abortLog.startAutoFlush();
    this.#updateExpiry();
    const handler = new RequestHandler(() => this.#runtime, deps.log, deps.metrics);
    const limits = config.limits;
    this.#http = http.createServer({
      maxHeaderSize: limits.maxHeaderBytes,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.idleTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
      requireHostHeader: true,
      insecureHTTPParser: false,
    });
    // Connection: close on the last response; requests pipelined past it get 503.
    this.#http.maxRequestsPerSocket = limits.maxRequestsPerConnection;
    this.#http.on('request', handler.onRequest);
    this.#http.on('connect', handler.onConnect);
    this.#http.on('upgrade', handler.onUpgrade);
    // http.Server starts the checker that enforces headersTimeout/requestTimeout on 'listening'. This
    // one never listens (sockets come from the TLS server), so without this slowloris headers are never cut off.
    this.#http.emit('listening');
    this.#h2 = new Http2Front(handler, limits, deps.metrics, deps.log);
    this.#lifetime = new ConnectionLifetime(limits.maxConnectionAgeMs, this.#h2);
    this.#http.prependListener('request', this.#lifetime.onRequest);
    this.#http.prependListener('upgrade', this.#lifetime.onUpgrade);
    this.#sweep = setInterval(() => this.#lifetime.sweep(this.#sockets), SWEEP_INTERVAL_MS);
    this.#sweep.unref();
    this.#tls = tls.createServer({
      ...material.options,
      requestCert: true,
      // OpenSSL refuses a client without a certificate in the handshake; Node destroys an unverified one after it (module comment).
      rejectUnauthorized: true,
      handshakeTimeout: limits.handshakeTimeoutMs,
      ALPNProtocols: ['h2', 'http/1.1'],
      secureOptions: ProxyServer.secureOptions(config),
      sessionIdContext: material.sessionIdContext,
      ...(deps.ticketKeys ? { ticketKeys: deps.ticketKeys } : {}),
    });
    this.#tls.maxConnections = limits.maxConnections;
    this.#tls.prependListener('connection', (raw: AcceptedSocket) => {
      raw[kAcceptedAt] = performance.now();
    });
    this.#tls.on('secureConnection', this.#onSecure);
    this.#tls.on('tlsClientError', this.#onTlsError);
  }

  /** No renegotiation ever; no session tickets unless `tls.sessionResumption`. */
  static secureOptions(config: ResolvedConfig): number {
    let opts = constants.SSL_OP_NO_RENEGOTIATION;
    if (!config.tls.sessionResumption) opts |= constants.SSL_OP_NO_TICKET;
    return opts;
  }

  /** Loads TLS material and builds the server; binds nothing. Throws ZtpError on bad material. */
  static async create(config: ResolvedConfig, deps: ProxyServerDeps): Promise<ProxyServer> {
    const material = await loadTlsMaterial(config);
    return new ProxyServer(config, material, deps);
  }

  get config(): ResolvedConfig {
    return this.#config;
  }

  get material(): TlsMaterial {
    return this.#material;
  }

  /** Binds the mTLS listener (or adopts `handle`, e.g. a socket-activated fd). Resolves to the bound address. */
  async listen(handle?: { fd: number }): Promise<{ host: string; port: number }> {
    const { host, port } = this.#config.listenAddress;
    await new Promise<void>((resolve, reject) => {
      this.#tls.once('error', reject);
      const done = () => {
        this.#tls.off('error', reject);
        resolve();
      };
      if (handle) this.#tls.listen(handle, done);
      else this.#tls.listen({ host, port, backlog: 4096 }, done);
    });
    this.#tls.on('error', (err) => this.#log.error({ err }, 'listener error'));
    const a = this.#tls.address();
    return typeof a === 'object' && a !== null ? { host: a.address, port: a.port } : { host, port };
  }

  /**
   * Loads and applies a new config. New connections use the new TLS material; requests
   * use the new routes from now on; connections in flight finish, except those
   * whose client certificate no longer verifies against the new material, which
   * are closed before this resolves (see #recheckConnections). On any
   * error the old config keeps serving and the error is thrown.
   */
  async reload(load: () => Promise<ResolvedConfig>, ticketKeys?: Buffer): Promise<void> {
    try {
      const config = await load();
      const material = await loadTlsMaterial(config);
      const runtime = new Runtime(config, this.#metrics);
      // A new context has new ticket keys (the given ones, or random): no session
      // resumes across a reload, so none outlives a CRL or CA change.
      this.#tls.setSecureContext({ ...material.options, sessionIdContext: material.sessionIdContext, ...(ticketKeys ? { ticketKeys } : {}) });
      const old = this.#runtime;
      this.#runtime = runtime;
      this.#config = config;
      this.#material = material;
      this.#lifetime.maxAgeMs = config.limits.maxConnectionAgeMs;
      this.#http.maxRequestsPerSocket = config.limits.maxRequestsPerConnection;
      this.#updateExpiry();
      this.#metrics.configReloads.inc({ result: 'ok' });
      void old.close();
    } catch (err) {
      this.#metrics.configReloads.inc({ result: 'failed' });
      throw err;
    }
    try {
      this.#recheck = new PeerRecheck(this.#material.clientCAs, this.#config.tls.verifyDepth, this.#material.crlDer);
      this.#reloadedAt = performance.now();
      await this.#recheckConnections(this.#recheck);
    } catch (err) {
      // The new material is in place; a bug here must not undo or fail the reload.
      this.#log.error({ err }, 'rechecking open connections failed');
    }
  }

  /** Replaces the session ticket keys (periodic rotation; all workers get the same). */
  setTicketKeys(keys: Buffer): void {
    this.#tls.setTicketKeys(keys);
  }

  /** Pool and admission state of every upstream address of the current config (tests, /readyz). */
  upstreamStats(): { route: string; origin: string; connected: number; free: number; pending: number; running: number; inFlight: number; queued: number }[] {
    return this.#runtime.routes.flatMap((r) =>
      r.upstream.origins.map((origin, i) => {
        const s = r.upstream.pool(i).stats;
        const a = r.upstream.admission(i);
        return { route: r.route.name, origin, connected: s.connected, free: s.free, pending: s.pending, running: s.running, inFlight: a.inFlight, queued: a.waiting };
      }),
    );
  }

  /** Readiness: listening and material loaded. */
  get listening(): boolean {
    return this.#tls.listening;
  }

  /**
   * Stops accepting, lets in-flight requests finish for up to `drainMs`,
   * then destroys what is left: every client connection (TLS and TCP) and
   * every upstream pool (`destroy`, never an unbounded `close`). Resolves
   * within `drainMs` + about 1 s whatever state the pools are in. Idempotent.
   */
  close(drainMs = this.#config.limits.drainTimeoutMs): Promise<void> {
    this.#closing ??= this.#drain(drainMs);
    return this.#closing;
  }

  async #drain(drainMs: number): Promise<void> {
    clearInterval(this.#sweep);
    const closed = new Promise<void>((resolve) => this.#tls.close(() => resolve()));
    this.#http.closeIdleConnections();
    this.#h2.close();
    const deadline = Date.now() + drainMs;
    while (this.#sockets.size > 0 && Date.now() < deadline) {
      this.#http.closeIdleConnections();
      this.#h2.close();
      await new Promise((r) => setTimeout(r, 50));
    }
    this.#h2.destroy();
    for (const s of this.#sockets) destroyConnection(s);
    const bounded = <T>(p: Promise<T>) => Promise.race([p, new Promise<void>((r) => setTimeout(r, 1000).unref())]);
    await bounded(closed);
    this.#handshakeLog.close();
    this.#abortLog.close();
    this.#access.flush();
    this.#http.close(); // stops the connections checker started in the constructor
    await bounded(this.#runtime.destroy());
  }

  /**
   * Closes every established connection whose client certificate does not
   * verify against the material `recheck` was built from (revoked, CA
   * removed, expired): HTTP/1.1 and upgraded tunnels are destroyed, HTTP/2
   * gets GOAWAY. Counted in `ztproxy_connections_revoked_total` and logged
   * with the DN. Certificates shared by many connections are checked once;
   * the event loop is yielded every 256 connections.
   */
  async #recheckConnections(recheck: PeerRecheck): Promise<void> {
    const verdicts = new Map<string, RecheckFailure | null>();
    let n = 0;
    for (const s of [...this.#sockets]) {
      if (++n % 256 === 0) await new Promise((r) => setImmediate(r));
      if (s.destroyed || this.#revoked.has(s) || recheck !== this.#recheck) continue;
      this.#recheckOne(s, recheck, verdicts);
    }
  }

  /** Closes `s` when its certificate fails `recheck`; returns whether it did. */
  #recheckOne(s: tls.TLSSocket, recheck: PeerRecheck, verdicts?: Map<string, RecheckFailure | null>): boolean {
    const conn = (s as ConnectionSocket)[kConnection];
    if (conn === undefined) return false;
    // The peer's leaf and chain as OpenSSL keeps them for the connection: nothing is stored per connection for this.
    let leaf = s.getPeerX509Certificate();
    if (leaf === undefined) leaf = new X509Certificate(conn.identity.der);
    let key = leaf.raw.toString('latin1');
    for (const c of chainOf(leaf)) key += c.toString('latin1');
    let verdict = verdicts?.get(key);
    if (verdict === undefined) {
      verdict = recheck.check(leaf);
      verdicts?.set(key, verdict);
    }
    if (verdict === null) return false;
    this.#revoked.add(s);
    this.#metrics.connectionsRevoked.inc({ reason: verdict });
    const id = conn.identity;
    conn.log.warn({ dn: id.subjectDN, issuer: id.issuerDN, serial: id.serial, reason: verdict, protocol: s.alpnProtocol || 'http/1.1' }, 'connection closed: client certificate no longer verifies');
    this.#lifetime.kill(s);
    return true;
  }

  #updateExpiry(): void {
    const g = this.#metrics.certificateExpiry;
    const m = this.#material;
    g.set({ cert: 'server' }, m.serverNotAfterMs / 1000);
    g.set({ cert: 'client_ca' }, m.clientCaNotAfterMs / 1000);
    if (m.crlNextUpdateMs !== null) g.set({ cert: 'crl_next_update' }, m.crlNextUpdateMs / 1000);
    else g.remove({ cert: 'crl_next_update' });
  }

  #handshakeFailed(reason: HandshakeFailureReason, s: tls.TLSSocket, extra: Record<string, unknown>): void {
    const m = this.#metrics;
    m.handshakes.inc({ result: 'failed', reason });
    const t0 = rawSocketOf(s)?.[kAcceptedAt];
    if (t0 !== undefined) m.handshakeDuration.observe({ result: 'failed' }, (performance.now() - t0) / 1000);
    this.#handshakeLog.failed({ reason, remoteAddress: s.remoteAddress ?? rawSocketOf(s)?.remoteAddress, ...extra });
  }

  #handshakeAborted(reason: HandshakeAbortReason, s: tls.TLSSocket, code: string | undefined): void {
    const m = this.#metrics;
    m.handshakes.inc({ result: 'aborted', reason });
    const t0 = rawSocketOf(s)?.[kAcceptedAt];
    if (t0 !== undefined) m.handshakeDuration.observe({ result: 'aborted' }, (performance.now() - t0) / 1000);
    this.#abortLog.failed({ reason, remoteAddress: s.remoteAddress ?? rawSocketOf(s)?.remoteAddress, code });
  }

  #onTlsError = (err: Error & { code?: string }, s: tls.TLSSocket): void => {
    // With a 'tlsClientError' listener Node leaves the socket open (a handshake timeout would otherwise idle forever).
    s.destroy();
    const verifyError = s.authorizationError as unknown as string | null;
    if (verifyError) {
      // The handshake completed and Node destroyed the socket because OpenSSL did not verify the
      // chain (it reports that as a hang-up). The client sent a certificate: without one OpenSSL
      // would have failed the handshake itself.
      this.#handshakeFailed(verifyFailureReason(verifyError, true), s, { verifyError });
      return;
    }
    const abort = handshakeAbortReason(err.code, (rawSocketOf(s)?.bytesWritten ?? 0) > 0);
    if (abort !== null) {
      this.#handshakeAborted(abort, s, err.code);
      return;
    }
    const reason = handshakeErrorReason(err.code);
    // No certificate: OpenSSL never ran chain verification, so there is no verify error to report.
    this.#handshakeFailed(reason, s, reason === 'no_certificate' ? { code: err.code, verifyError: null } : { code: err.code });
  };

  #onSecure = (s: tls.TLSSocket): void => {
    const cert = s.getPeerX509Certificate();
    if (!s.authorized || cert === undefined) {
      // nodejs/node#35317: a resumed session may report `authorized` without a peer certificate; refuse it too.
      const reason = verifyFailureReason(s.authorizationError as unknown as string | null, cert !== undefined);
      this.#handshakeFailed(reason, s, { verifyError: cert === undefined ? null : (s.authorizationError ?? null) });
      s.destroy();
      return;
    }
    // What OpenSSL cannot be told through Node: tls.verifyDepth, and no CA certificate as a client.
    const violation = chainViolation(cert, this.#material.clientCAs, this.#config.tls.verifyDepth);
    if (violation !== null) {
      this.#handshakeFailed('bad_certificate', s, { verifyError: violation });
      s.destroy();
      return;
    }
    let identity;
    try {
      identity = this.#identities.get(cert.raw, this.#config.identityHeaders.rfc9440 ? chainOf(cert) : []);
    } catch (err) {
      this.#handshakeFailed('bad_certificate', s, { err });
      s.destroy();
      return;
    }
    const m = this.#metrics;
    this.#handshakeOk.inc();
    const t0 = rawSocketOf(s)?.[kAcceptedAt];
    if (t0 !== undefined) this.#handshakeOkDuration.observe((performance.now() - t0) / 1000);
    m.connectionsActive.inc();
    this.#sockets.add(s);
    this.#lifetime.track(s);
    s.once('close', () => {
      m.connectionsActive.dec();
      this.#sockets.delete(s);
    });
    const id = `${this.#connPrefix}-${(this.#nextConnId++).toString(36)}`;
    const sni = typeof s.servername === 'string' ? s.servername.toLowerCase() : '';
    (s as ConnectionSocket)[kConnection] = new ClientConnection(id, identity, sni, s, this.#log, this.#access);
    // A handshake that began before the last reload was verified with the old material: check it with the new.
    if (t0 !== undefined && t0 < this.#reloadedAt && this.#recheck !== null && this.#recheckOne(s, this.#recheck)) return;
    if (s.alpnProtocol === 'h2') this.#h2.accept(s);
    else this.#http.emit('connection', s);
  };
}

/** DER of the certificates the peer sent above its leaf. */
function chainOf(leaf: X509Certificate): Buffer[] {
  const out: Buffer[] = [];
  let cur = leaf.issuerCertificate;
  let prev = leaf;
  while (cur !== undefined && cur !== null && out.length < 10 && !cur.raw.equals(prev.raw)) {
    out.push(cur.raw);
    prev = cur;
    cur = cur.issuerCertificate;
  }
  return out;
}
