/**
 * `workers > 1`: a node:cluster primary that forks the workers, restarts
 * one that dies (with backoff), sends them reloads and the shared ticket
 * keys, drains them all on SIGTERM and serves one aggregated /metrics.
 * Workers share the listening socket through the primary.
 */
import cluster, { type Worker } from 'node:cluster';
import { ZtpError } from '../util/index.js';
import { createPrimaryAggregator } from '../metrics/index.js';
import { parseToPrimary, send, toWorker, workerEnv } from './ipc.js';
import { startMetricsEndpoint } from './listen.js';
import { printDevNote } from './notices.js';
import { reloadConfig, watchedFiles, type Prepared } from './prepare.js';
import { handleSignals, setupProcess, STOP_GRACE_MS } from './process-setup.js';
import { Reloader } from './reloader.js';
import { socketActivationHandle } from './socket-activation.js';
import { TicketKeyRotation } from './ticket-keys.js';

/** Restart backoff: 200 ms doubling to at most 30 s; reset after a calm minute. */
const MAX_RESTART_DELAY_MS = 30_000;
const CALM_MS = 60_000;

const everyWorker = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);

/**
 * Runs `count` workers until SIGTERM or SIGINT; resolves to the exit code.
 *
 * @throws ZtpError `ZTP_LISTEN` when the metrics address, or the workers'
 *   listen address before any worker was ready, cannot be bound.
 */
export async function runPrimary(p: Prepared, count: number): Promise<number> {
  const { config, source } = p;
  const { log, flush, registry } = setupProcess(config, 'primary');
  // Socket activation: the primary owns fd 3 and hands it to the workers through cluster's shared handle.
  const env = workerEnv({ overrides: source.overrides, listenFd: socketActivationHandle()?.fd });
  const aggregator = createPrimaryAggregator({ registry });
  let current = config;
  const endpoint = await startMetricsEndpoint({
    config,
    keys: p.keys,
    current: () => current,
    source: { aggregate: () => aggregator.metrics() },
    ready: () => {
      const up = everyWorker().length > 0;
      return { ok: up, checks: { workers: up } };
    },
  }).catch((err: unknown) => {
    aggregator.close();
    throw err;
  });

  // One set of ticket keys for all workers, so a session resumes on any of them;
  // sent over IPC (never the environment, which other processes can read).
  const keys = new TicketKeyRotation((k) => everyWorker().forEach((w) => send(w, toWorker.ticketKeys(k))));
  let stopping = false;
  let anyReady = false;
  let restarts = 0;
  /** Set when a worker could not listen before any was ready: the primary drains and ends with it. */
  let failure: ZtpError | null = null;
  const fork = (): Worker => {
    const w = cluster.fork(env);
    w.once('online', () => send(w, toWorker.ticketKeys(keys.current)));
    w.on('message', (raw: unknown) => {
      const m = parseToPrimary(raw);
      if (m?.type === 'ztproxy:want-keys') send(w, toWorker.ticketKeys(keys.current));
      if (m?.type === 'ztproxy:ready') {
        // Again at ready: the worker surely listens to its channel by now.
        send(w, toWorker.ticketKeys(keys.current));
        if (!anyReady) {
          anyReady = true;
          flush();
          printDevNote(m.port, p.devNote);
        }
      }
      if (m?.type === 'ztproxy:failed' && !anyReady && !stopping) {
        failure = new ZtpError(m.code, m.message);
        life.stop('worker failed');
      }
    });
    return w;
  };
  cluster.on('exit', (w, code, signal) => {
    if (stopping) return;
    restarts++;
    const delayMs = Math.min(MAX_RESTART_DELAY_MS, 100 * 2 ** Math.min(restarts, 8));
    log.error({ workerPid: w.process.pid, code, signal, restartInMs: delayMs }, 'worker exited; restarting');
    setTimeout(() => {
      if (!stopping) fork();
    }, delayMs).unref();
  });
  const calm = setInterval(() => (restarts = 0), CALM_MS);
  calm.unref();

  const reloader = new Reloader({
    log,
    watch: { config, files: (c) => watchedFiles(c, source) },
    // Validate here first so a broken config is reported once; workers still
    // try it too and count their own reloads (ok or failed) in the metrics.
    apply: async () => {
      const k = keys.next();
      try {
        current = await reloadConfig(source);
        return current;
      } finally {
        everyWorker().forEach((w) => send(w, toWorker.reload(k)));
      }
    },
  });
  const life = handleSignals('primary', {
    reload: () => reloader.reload('SIGHUP'),
    drain: async (signal) => {
      stopping = true;
      log.info({ signal }, 'draining workers');
      keys.close();
      reloader.close();
      clearInterval(calm);
      const workers = everyWorker();
      const exits = workers.map((w) => new Promise<void>((r) => (w.isDead() ? r() : w.once('exit', () => r()))));
      workers.forEach((w) => send(w, toWorker.stop()));
      const hardStop = setTimeout(() => workers.forEach((w) => w.process.kill('SIGKILL')), config.limits.drainTimeoutMs + STOP_GRACE_MS);
      await Promise.all(exits);
      clearTimeout(hardStop);
      aggregator.close();
      await endpoint.close();
      await p.echo?.close();
      log.info({}, 'stopped');
      flush();
    },
  });
  for (let i = 0; i < count; i++) fork();
  log.info({ workers: count, metrics: endpoint.listener?.address() ?? null }, 'ztproxy primary started');
  const code = await life.exited;
  if (failure) throw failure;
  return code;
}
