/**
 * What every serving process sets up the same way, written once: the
 * logger, the metrics registry, the start-up warnings, and the signals that
 * reload and stop it. The role decides the few differences.
 */
import cluster from 'node:cluster';
import type { Logger } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { ResolvedConfig } from '../config/index.js';
import { EXIT } from '../util/index.js';
import { createLogger } from '../log/index.js';
import { createMetrics, createWorkerMetricsResponder, type Metrics } from '../metrics/index.js';
import { warnInsecure, warnRuntime } from './notices.js';

/** After drainTimeoutMs, how long the rest of a stop may take before the process exits anyway. */
export const STOP_GRACE_MS = 1_500;

/** `single`: workers 1; `primary`: the node:cluster primary (no proxy of its own); `worker`: one of its workers. */
export type Role = 'single' | 'primary' | 'worker';

export interface ProcessSetup<R extends Role = Role> {
  readonly log: Logger;
  /** Writes what the logger buffered; call before exit. */
  flush(): void;
  /** This process's registry, with the Node.js default metrics (`ztproxy_primary_` prefixed in a primary). */
  readonly registry: Registry;
  /** The proxy's metrics; null in a primary, which serves its workers' metrics. */
  readonly metrics: R extends 'primary' ? null : Metrics;
}

/**
 * Sets up logging and metrics for `role`. The warnings of the start (an
 * outdated Node.js line, insecure routes) are logged once, not per worker.
 */
export function setupProcess<R extends Role>(config: ResolvedConfig, role: R): ProcessSetup<R> {
  const base = role === 'single' ? {} : role === 'primary' ? { role } : { role, worker: cluster.worker?.id };
  const { log, flush } = createLogger(config.log.level, base);
  if (role !== 'worker') {
    warnRuntime(log);
    warnInsecure(config, log);
  }
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, ...(role === 'primary' ? { prefix: 'ztproxy_primary_' } : {}) });
  const metrics = role === 'primary' ? null : createMetrics(registry);
  if (role === 'worker') createWorkerMetricsResponder(registry);
  return { log, flush, registry, metrics: metrics as ProcessSetup<R>['metrics'] };
}

export interface StopHandlers {
  /** On SIGHUP (not in a worker: its primary sends reloads). */
  readonly reload?: () => void;
  /** Drains and releases everything; runs once, on the first SIGTERM or SIGINT (in a worker: also on the primary's stop message). */
  readonly drain: (signal: string) => Promise<void>;
  /** The longest a stop may take after the signal; then the process exits anyway (after `onOverrun`). Default: no bound. */
  readonly boundMs?: number;
  readonly onOverrun?: () => void;
}

export interface Lifetime {
  /** Resolves to the exit code once stopped. */
  readonly exited: Promise<number>;
  /** Starts the stop as a signal would. */
  stop(signal: string): void;
}

/**
 * Wires the signals of `role` and resolves `exited` once a stop has
 * drained. A cluster worker ignores SIGINT and SIGHUP (a terminal sends
 * them to the whole process group; its primary decides) and stops on SIGTERM
 * or its primary's stop message.
 */
export function handleSignals(role: Role, h: StopHandlers): Lifetime {
  let resolve!: (code: number) => void;
  const exited = new Promise<number>((r) => (resolve = r));
  let stopping = false;
  const onHup = role === 'worker' ? () => {} : () => h.reload?.();
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.off('SIGHUP', onHup);
    if (h.boundMs !== undefined) {
      setTimeout(() => {
        h.onOverrun?.();
        resolve(EXIT.ok);
      }, h.boundMs).unref();
    }
    void h.drain(signal).then(() => resolve(EXIT.ok));
  };
  process.on('SIGHUP', onHup);
  if (role === 'worker') {
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => {});
  } else {
    // Once: a second SIGTERM or Ctrl-C during the drain gets Node's default, an immediate exit.
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  }
  return { exited, stop };
}
