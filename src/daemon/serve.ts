/**
 * `ztproxy serve`: load and check the config, then run one process or a
 * node:cluster primary with workers; reload on SIGHUP, drain on SIGTERM and
 * SIGINT. Resolves to the exit code.
 */
import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import type { Logger } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { loadConfig, type ConfigOverrides, type ResolvedConfig } from '../config/index.js';
import { startEchoUpstream, type EchoUpstream } from '../dev/echo-upstream.js';
import { describeError, EXIT, ZtpError } from '../errors.js';
import { createLogger } from '../log/logger.js';
import { createMetrics, startMetricsListener, type MetricsListener } from '../metrics/index.js';
import { loadTlsMaterial, MaterialWatcher } from '../tls/index.js';
import { nodeLineStatus, RECOMMENDED_NODE } from '../node-support.js';
import { UpstreamProbe } from '../proxy/upstream-probe.js';
import { ProxyServer } from '../proxy/server.js';
import { runPrimary, runWorker } from './cluster.js';

/** After drainTimeoutMs, how long the rest of a stop may take before the process exits anyway. */
export const STOP_GRACE_MS = 1_500;

export interface ServeOptions {
  config?: string;
  overrides: ConfigOverrides;
  dev: boolean;
  check: boolean;
  /** Where --dev keeps its certificates (default ./certs-dev). */
  devDir?: string;
}

/** Config as the serve command sees it, --dev defaults included. */
export async function prepare(o: ServeOptions): Promise<{ config: ResolvedConfig; echo: EchoUpstream | null; devNote: string | null }> {
  const overrides: ConfigOverrides = { ...o.overrides };
  const inherited = process.env.ZTPROXY_WORKER_OVERRIDES;
  if (cluster.isWorker && inherited) {
    // A worker takes the primary's effective overrides (--dev paths, the echo upstream URL).
    o.overrides = JSON.parse(inherited) as ConfigOverrides;
    return { config: await loadConfig(o.config, o.overrides), echo: null, devNote: null };
  }
  let echo: EchoUpstream | null = null;
  let devNote: string | null = null;
  if (o.dev) {
    // Loaded only here: the CA library is not needed to serve.
    const { ensureDevCerts } = await import('../dev/dev-certs.js');
    const dev = await ensureDevCerts(resolvePath(o.devDir ?? 'certs-dev'));
    overrides.cert ??= dev.serverCert;
    overrides.key ??= dev.serverKey;
    overrides.clientCA ??= dev.caCert;
    overrides.crl ??= dev.crl;
    overrides.listen ??= '127.0.0.1:8443';
    if (overrides.upstream === undefined && o.config === undefined && !o.check) {
      echo = await startEchoUpstream();
      overrides.upstream = echo.url;
    }
    const rel = (p: string) => p.replace(process.cwd() + '/', '');
    devNote = `curl --cacert ${rel(dev.caCert)} --cert ${rel(dev.clientCert)} --key ${rel(dev.clientKey)} https://localhost:{PORT}/`;
  }
  const config = await loadConfig(o.config, overrides);
  // Reloads and workers use the same effective flags.
  o.overrides = overrides;
  return { config, echo, devNote };
}

export async function serve(o: ServeOptions): Promise<number> {
  if (cluster.isWorker) return runWorker(o);
  const { config, echo, devNote } = await prepare(o);
  if (o.check) {
    const m = await loadTlsMaterial(config);
    const lines = [
      `config ok${config.source ? `: ${config.source}` : ''}`,
      `listen ${config.listen}, workers ${config.workers}, metrics ${config.metrics.listen === false ? 'off' : config.metrics.listen}`,
      `server certificate: ${m.serverSubject}, expires ${new Date(m.serverNotAfterMs).toISOString()}`,
      `client CAs: ${m.clientCaSubjects.join('; ')}`,
      `CRLs: ${m.crlCount}${m.crlNextUpdateMs !== null ? `, next update ${new Date(m.crlNextUpdateMs).toISOString()}` : ''}`,
      `key exchange groups: ${String(m.options.ecdhCurve).split(':').join(', ')} (Node ${process.version}, OpenSSL ${process.versions.openssl})`,
      ...config.routes.map((r) => `route ${r.name}: ${r.host ?? '*'}${r.pathPrefix} -> ${r.upstream.origins.join(', ')}${r.allow || r.deny ? ' (policy)' : ''}`),
    ];
    process.stdout.write(lines.join('\n') + '\n');
    return EXIT.ok;
  }
  const workers = config.workers === 'auto' ? availableParallelism() : config.workers;
  if (workers > 1) return runPrimary(o, config, workers, echo, devNote);
  return runSingle(o, config, echo, devNote);
}

/**
 * Warns when this Node.js line is past its end of life (no more security
 * fixes for the TLS stack ztproxy stands on); `now` is for tests.
 */
export function warnRuntime(log: Logger, version: string = process.version, now: Date = new Date()): boolean {
  const s = nodeLineStatus(version, now);
  if (!s.pastEndOfLife) return false;
  log.warn(
    { node: version, openssl: process.versions.openssl, endOfLife: s.endOfLife, recommended: `Node ${RECOMMENDED_NODE} LTS` },
    'node.js line past its end of life: no more security fixes; run ztproxy on node 24 lts',
  );
  return true;
}

/** Warns once per route that weakens security. */
export function warnInsecure(config: ResolvedConfig, log: Logger): void {
  for (const r of config.routes) {
    if (r.upstream.insecurePlaintext) log.warn({ route: r.name, upstream: r.upstream.origins }, 'insecure plaintext upstream enabled: identities travel unencrypted to it');
  }
}

/** Prints the newcomer's curl line. */
export function printDevNote(port: number, devNote: string | null): void {
  if (devNote) process.stdout.write(`\nztproxy dev mode: mTLS on https://localhost:${port}/ in front of a built-in echo upstream.\nTry it (your DN comes back in x-client-subject-dn):\n\n  ${devNote.replace('{PORT}', String(port))}\n\n`);
}

/** One process serves everything (workers: 1). */
async function runSingle(o: ServeOptions, config: ResolvedConfig, echo: EchoUpstream | null, devNote: string | null): Promise<number> {
  const { log, flush } = createLogger(config.log.level);
  warnRuntime(log);
  warnInsecure(config, log);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = createMetrics(registry);
  const server = await ProxyServer.create(config, { log, metrics });
  const address = await server.listen(socketActivationHandle());
  let metricsListener: MetricsListener | null = null;
  let probe: UpstreamProbe | null = null;
  if (config.metricsAddress) {
    probe = new UpstreamProbe(() => server.config);
    probe.start();
    const upstreams = probe;
    metricsListener = await startMetricsListener({
      host: config.metricsAddress.host,
      port: config.metricsAddress.port,
      registry,
      ready: () => {
        const u = upstreams.report();
        return { ok: server.listening && u.ok, checks: { listening: server.listening, tlsMaterial: true, ...u.checks } };
      },
    });
  }
  log.info({ listen: `${address.host}:${address.port}`, metrics: metricsListener?.address() ?? null, routes: config.routes.map((r) => r.name) }, 'ztproxy listening');
  flush();
  printDevNote(address.port, devNote);
  return new Promise<number>((resolve) => {
    const reloader = new Reloader(server, o, log);
    const onHup = () => reloader.reload('SIGHUP');
    // Fresh session ticket keys every hour (and, through the new context, on every reload).
    const rotate = setInterval(() => server.setTicketKeys(randomBytes(48)), 60 * 60 * 1000);
    rotate.unref();
    const onStop = (signal: string) => {
      log.info({ signal }, 'draining');
      process.off('SIGHUP', onHup);
      reloader.close();
      probe?.stop();
      clearInterval(rotate);
      // The drain destroys what is left after drainTimeoutMs; this bounds everything after it too.
      setTimeout(() => {
        log.warn({ drainTimeoutMs: config.limits.drainTimeoutMs }, 'drain overran; exiting');
        flush();
        resolve(EXIT.ok);
      }, config.limits.drainTimeoutMs + STOP_GRACE_MS).unref();
      void server
        .close()
        .then(() => metricsListener?.close())
        .then(() => echo?.close())
        .then(() => {
          log.info({}, 'stopped');
          flush();
          resolve(EXIT.ok);
        });
    };
    process.on('SIGHUP', onHup);
    process.once('SIGTERM', () => onStop('SIGTERM'));
    process.once('SIGINT', () => onStop('SIGINT'));
  });
}

/**
 * Runs reloads one at a time (a SIGHUP during a reload queues one more) and
 * watches the TLS files of the current config.
 */
export class Reloader {
  readonly #server: ProxyServer;
  readonly #o: ServeOptions;
  readonly #log: Logger;
  #running = false;
  #again = false;
  #watcher: MaterialWatcher | null = null;
  #ticketKeys: Buffer | undefined;

  readonly #watchFiles: boolean;

  /** `watchFiles`: false in cluster workers, whose primary watches and rotates the shared ticket keys. */
  constructor(server: ProxyServer, o: ServeOptions, log: Logger, watchFiles = true) {
    this.#server = server;
    this.#o = o;
    this.#log = log;
    this.#watchFiles = watchFiles;
    this.#watch();
  }

  #watch(): void {
    if (!this.#watchFiles) return;
    this.#watcher?.close();
    this.#watcher = new MaterialWatcher(watchedFiles(this.#server.config, this.#o), () => this.reload('file change'));
  }

  /** Reloads now, or once more after the running reload. `ticketKeys`: the shared keys of a cluster. */
  reload(trigger: string, ticketKeys?: Buffer): void {
    if (ticketKeys) this.#ticketKeys = ticketKeys;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    this.#server
      .reload(() => reloadConfig(this.#o), this.#ticketKeys)
      .then(() => {
        this.#log.info({ trigger }, 'config reloaded');
        this.#watch();
      })
      .catch((err) => this.#log.error({ err, trigger, reason: describeError(err) }, 'reload failed; old config keeps serving'))
      .finally(() => {
        this.#running = false;
        if (this.#again) {
          this.#again = false;
          this.reload(trigger);
        }
      });
  }

  close(): void {
    this.#watcher?.close();
  }
}

/** The files whose change triggers a reload. */
export function watchedFiles(config: ResolvedConfig, o: ServeOptions): string[] {
  const t = config.tls;
  return [t.cert, t.key, t.clientCA, ...(t.crl ? [t.crl] : []), ...(o.config ? [o.config] : [])];
}

/** Re-reads the config the process was started with; the effective flags of the start still override. */
export function reloadConfig(o: ServeOptions): Promise<ResolvedConfig> {
  return loadConfig(o.config, o.overrides);
}

/** The listening fd systemd passes with socket activation (LISTEN_FDS), if any. */
export function socketActivationHandle(): { fd: number } | undefined {
  if (process.env.LISTEN_PID !== String(process.pid) || process.env.LISTEN_FDS === undefined) return undefined;
  const n = Number(process.env.LISTEN_FDS);
  delete process.env.LISTEN_PID;
  delete process.env.LISTEN_FDS;
  delete process.env.LISTEN_FDNAMES;
  if (n !== 1) throw new ZtpError('ZTP_LISTEN', `socket activation: expected 1 socket, got LISTEN_FDS=${n}`);
  return { fd: 3 };
}
