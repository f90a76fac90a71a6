/**
 * Composition root and lifecycle of one serving process: start, reload,
 * drain, stop. Who may connect is the accept gate's business
 * (accept-gate.ts); what a request does is the handler's (handler.ts).
 */
import { constants } from 'node:crypto';
import http from 'node:http';
import tls from 'node:tls';
import type { Logger } from 'pino';
import type { ResolvedConfig } from '../config/index.js';
import { AccessLog } from '../log/index.js';
import type { Metrics } from '../metrics/index.js';
import { loadTlsMaterial, type TlsMaterial } from '../tls/index.js';
import { AcceptGate, destroyConnection } from './accept-gate.js';
import { ConnectionLifetime, SWEEP_INTERVAL_MS } from './connection-lifetime.js';
import { RequestHandler } from './handler.js';
import { Http2Front } from './http2-front.js';
import { LiveRevocation } from './revocation.js';
import { Runtime } from './runtime.js';

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
  readonly #gate: AcceptGate;
  #closing: Promise<void> | null = null;
  readonly #lifetime: ConnectionLifetime;
  readonly #sweep: NodeJS.Timeout;
  readonly #revocation: LiveRevocation;

  private constructor(config: ResolvedConfig, material: TlsMaterial, deps: ProxyServerDeps) {
    this.#config = config;
    this.#material = material;
    this.#log = deps.log;
    this.#access = new AccessLog(deps.log);
    this.#metrics = deps.metrics;
    this.#runtime = new Runtime(config, deps.metrics);
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
    this.#revocation = new LiveRevocation(deps.metrics, (s) => this.#lifetime.kill(s));
    this.#gate = new AcceptGate({
      log: deps.log,
      access: this.#access,
      metrics: deps.metrics,
      current: () => ({ config: this.#config, material: this.#material }),
      track: (s, now) => this.#lifetime.track(s, now),
      lateCheck: (s, t0) => this.#revocation.lateCheck(s, t0),
      handOff: (s) => {
        if (s.alpnProtocol === 'h2') this.#h2.accept(s);
        else this.#http.emit('connection', s);
      },
    });
    this.#sweep = setInterval(() => this.#lifetime.sweep(this.#gate.sockets), SWEEP_INTERVAL_MS);
    this.#sweep.unref();
    this.#tls = tls.createServer({
      ...material.options,
      requestCert: true,
      // OpenSSL refuses a client without a certificate in the handshake; Node destroys an unverified one after it (accept-gate.ts).
      rejectUnauthorized: true,
      handshakeTimeout: limits.handshakeTimeoutMs,
      ALPNProtocols: ['h2', 'http/1.1'],
      secureOptions: ProxyServer.secureOptions(config),
      sessionIdContext: material.sessionIdContext,
      ...(deps.ticketKeys ? { ticketKeys: deps.ticketKeys } : {}),
    });
    this.#tls.maxConnections = limits.maxConnections;
    this.#gate.guard(this.#tls);
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
   * are closed before this resolves (see LiveRevocation). On any
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
      await this.#revocation.apply(this.#material, this.#config.tls.verifyDepth, this.#gate.sockets);
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
    const sockets = this.#gate.sockets;
    const closed = new Promise<void>((resolve) => this.#tls.close(() => resolve()));
    this.#http.closeIdleConnections();
    this.#h2.close();
    const deadline = Date.now() + drainMs;
    while (sockets.size > 0 && Date.now() < deadline) {
      this.#http.closeIdleConnections();
      this.#h2.close();
      await new Promise((r) => setTimeout(r, 50));
    }
    this.#h2.destroy();
    for (const s of sockets) destroyConnection(s);
    const bounded = <T>(p: Promise<T>) => Promise.race([p, new Promise<void>((r) => setTimeout(r, 1000).unref())]);
    await bounded(closed);
    this.#gate.close();
    this.#access.flush();
    this.#http.close(); // stops the connections checker started in the constructor
    await bounded(this.#runtime.destroy());
  }

  #updateExpiry(): void {
    const g = this.#metrics.certificateExpiry;
    const m = this.#material;
    g.set({ cert: 'server' }, m.serverNotAfterMs / 1000);
    g.set({ cert: 'client_ca' }, m.clientCaNotAfterMs / 1000);
    if (m.crlNextUpdateMs !== null) g.set({ cert: 'crl_next_update' }, m.crlNextUpdateMs / 1000);
    else g.remove({ cert: 'crl_next_update' });
  }
}
