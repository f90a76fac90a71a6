/**
 * `workers > 1`: a node:cluster primary that forks the workers, restarts
 * one that dies (with backoff), forwards SIGHUP, drains all on SIGTERM and
 * serves one aggregated /metrics. Workers share the listening socket
 * through the primary.
 */
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { ResolvedConfig } from '../config/index.js';
import { describeError, EXIT } from '../errors.js';
import type { EchoUpstream } from '../dev/echo-upstream.js';
import { createLogger } from '../log/logger.js';
import { createMetrics, createPrimaryAggregator, createWorkerMetricsResponder, startMetricsListener } from '../metrics/index.js';
import { ProxyServer } from '../proxy/server.js';
import { UpstreamProbe } from '../proxy/upstream-probe.js';
import { MaterialWatcher } from '../tls/index.js';
import { prepare, printDevNote, reloadConfig, Reloader, socketActivationHandle, STOP_GRACE_MS, warnInsecure, warnRuntime, watchedFiles, type ServeOptions } from './serve.js';

const MSG_RELOAD = 'ztproxy:reload';
const MSG_STOP = 'ztproxy:stop';
const MSG_READY = 'ztproxy:ready';
const MSG_TICKET_KEYS = 'ztproxy:ticket-keys';
/** Session ticket keys are replaced this often (and on every reload). */
const TICKET_KEY_ROTATION_MS = 60 * 60 * 1000;

export async function runPrimary(o: ServeOptions, config: ResolvedConfig, count: number, echo: EchoUpstream | null, devNote: string | null): Promise<number> {
  const { log, flush } = createLogger(config.log.level, { role: 'primary' });
  warnRuntime(log);
  warnInsecure(config, log);
  const env = { ZTPROXY_WORKER_OVERRIDES: JSON.stringify(o.overrides) };
  // Socket activation: the primary owns fd 3 and hands it to the workers through cluster's shared handle.
  const activated = socketActivationHandle();
  if (activated) (env as Record<string, string>).ZTPROXY_LISTEN_FD = String(activated.fd);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'ztproxy_primary_' });
  const aggregator = createPrimaryAggregator({ registry });
  // One set of ticket keys for all workers, so a session resumes on any of them;
  // sent over IPC (never the environment, which other processes can read).
  let ticketKeys = randomBytes(48);
  const sendKeys = (w: Worker, reload = false) => w.send({ type: reload ? MSG_RELOAD : MSG_TICKET_KEYS, keys: ticketKeys.toString('hex') });
  let stopping = false;
  let restarts = 0;
  let printed = false;
  const fork = (): Worker => {
    const w = cluster.fork(env);
    w.once('online', () => sendKeys(w));
    w.on('message', (m: unknown) => {
      if (m && typeof m === 'object' && (m as { type?: string }).type === MSG_READY && !printed) {
        printed = true;
        flush();
        printDevNote((m as unknown as { port: number }).port, devNote);
      }
    });
    return w;
  };
  cluster.on('exit', (w, code, signal) => {
    if (stopping) return;
    restarts++;
    const delayMs = Math.min(30_000, 100 * 2 ** Math.min(restarts, 8));
    log.error({ workerPid: w.process.pid, code, signal, restartInMs: delayMs }, 'worker exited; restarting');
    setTimeout(() => {
      if (!stopping) fork();
    }, delayMs).unref();
  });
  for (let i = 0; i < count; i++) fork();
  // Reset the backoff once workers have stayed up for a while.
  const calm = setInterval(() => (restarts = 0), 60_000);
  calm.unref();
  const rotate = setInterval(() => {
    ticketKeys = randomBytes(48);
    for (const w of Object.values(cluster.workers ?? {})) if (w) sendKeys(w);
  }, TICKET_KEY_ROTATION_MS);
  rotate.unref();
  // The primary probes the upstreams itself (TCP connect, see UpstreamProbe): workers need not report.
  let current = config;
  const probe = new UpstreamProbe(() => current);
  if (config.metricsAddress) probe.start();
  const metricsListener = config.metricsAddress
    ? await startMetricsListener({
        host: config.metricsAddress.host,
        port: config.metricsAddress.port,
        aggregate: () => aggregator.metrics(),
        ready: () => {
          const n = Object.keys(cluster.workers ?? {}).length;
          const u = probe.report();
          return { ok: n > 0 && u.ok, checks: { workers: n > 0, ...u.checks } };
        },
      })
    : null;
  log.info({ workers: count, metrics: metricsListener?.address() ?? null }, 'ztproxy primary started');
  return new Promise<number>((resolve) => {
    let watcher: MaterialWatcher | null = null;
    const watch = () => {
      watcher?.close();
      watcher = new MaterialWatcher(watchedFiles(current, o), () => onHup());
    };
    const onHup = () => {
      // Validate first so a broken config is reported once, here; workers still count their own reloads.
      const broadcast = () => {
        ticketKeys = randomBytes(48);
        for (const w of Object.values(cluster.workers ?? {})) if (w) sendKeys(w, true);
      };
      reloadConfig(o).then((next) => {
        current = next;
        watch();
        broadcast();
      }, (err) => {
        log.error({ err, reason: describeError(err) }, 'reload failed; old config keeps serving');
        broadcast(); // workers try too, and count the failure in the metrics
      });
    };
    const onStop = (signal: string) => {
      stopping = true;
      log.info({ signal }, 'draining workers');
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
      clearInterval(rotate);
      probe.stop();
      watcher?.close();
      const exits = workers.map((w) => new Promise<void>((r) => (w.isDead() ? r() : w.once('exit', () => r()))));
      for (const w of workers) w.send({ type: MSG_STOP });
      const hardStop = setTimeout(() => workers.forEach((w) => w.process.kill('SIGKILL')), config.limits.drainTimeoutMs + STOP_GRACE_MS);
      void Promise.all(exits).then(async () => {
        clearTimeout(hardStop);
        aggregator.close();
        await metricsListener?.close();
        await echo?.close();
        log.info({}, 'stopped');
        flush();
        resolve(EXIT.ok);
      });
    };
    watch();
    process.on('SIGHUP', onHup);
    process.once('SIGTERM', () => onStop('SIGTERM'));
    process.once('SIGINT', () => onStop('SIGINT'));
  });
}

export async function runWorker(o: ServeOptions): Promise<number> {
  const { config } = await prepare(o);
  const { log, flush } = createLogger(config.log.level, { role: 'worker', worker: cluster.worker?.id });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = createMetrics(registry);
  createWorkerMetricsResponder(registry);
  const server = await ProxyServer.create(config, { log, metrics });
  const fd = process.env.ZTPROXY_LISTEN_FD;
  const address = await server.listen(fd ? { fd: Number(fd) } : undefined);
  log.info({ listen: `${address.host}:${address.port}` }, 'ztproxy listening');
  process.send?.({ type: MSG_READY, port: address.port });
  return new Promise<number>((resolve) => {
    const reloader = new Reloader(server, o, log, false);
    const stop = () => {
      reloader.close();
      setTimeout(() => {
        flush();
        resolve(EXIT.ok);
      }, config.limits.drainTimeoutMs + STOP_GRACE_MS).unref();
      void server.close().then(() => {
        flush();
        resolve(EXIT.ok);
      });
    };
    process.on('message', (m: unknown) => {
      const msg = (m && typeof m === 'object' ? m : {}) as { type?: string; keys?: string };
      const keys = typeof msg.keys === 'string' && msg.keys.length === 96 ? Buffer.from(msg.keys, 'hex') : undefined;
      if (msg.type === MSG_STOP) stop();
      if (msg.type === MSG_TICKET_KEYS && keys) server.setTicketKeys(keys);
      if (msg.type === MSG_RELOAD) reloader.reload('SIGHUP', keys);
    });
    // The primary decides when to stop; signals from a terminal's process group are ignored here.
    process.on('SIGINT', () => {});
    process.on('SIGTERM', stop);
    process.on('SIGHUP', () => {});
  });
}
