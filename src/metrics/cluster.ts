/**
 * One /metrics for a node:cluster of workers.
 *
 * prom-client's own cluster support (`new AggregatorRegistry().clusterMetrics()`)
 * answers from each worker's *global* registry unless every worker calls the
 * static, process-wide `AggregatorRegistry.setRegistries`, and it fails a whole
 * scrape after a fixed 5 s. ztproxy injects one Registry per process instead,
 * so the exchange is ours: the primary sends `ztproxy:metrics-req` to each
 * connected worker, each worker answers with its registry's
 * `getMetricsAsJSON()`, and the primary merges the answers with prom-client's
 * `AggregatorRegistry.aggregate` (sum by default; `aggregator: 'min'` for the
 * certificate expiry gauge, see definitions.ts).
 *
 * A scrape fails (the listener answers 500) rather than return a partial sum
 * when a worker does not answer: a sum that drops a worker looks like a
 * counter reset to Prometheus and turns into a spike in `rate()`.
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, Registry } from 'prom-client';
import { ZtpError } from '../util/index.js';

/** One registry's `getMetricsAsJSON()` result, as it crosses the IPC channel. */
type MetricsJson = object[];

const REQ = 'ztproxy:metrics-req';
const RES = 'ztproxy:metrics-res';

interface MetricsRequest {
  type: typeof REQ;
  id: number;
}
interface MetricsResponse {
  type: typeof RES;
  id: number;
  metrics?: MetricsJson;
  error?: string;
}

/**
 * Worker side: answers the primary's metrics requests with `registry`'s
 * metrics. Call once per worker after `createMetrics(registry)`. Outside a
 * cluster worker it does nothing. Returns a function that stops answering.
 */
export function createWorkerMetricsResponder(registry: Registry): () => void {
  if (!cluster.isWorker || typeof process.send !== 'function') return () => {};
  const onMessage = (message: unknown): void => {
    if (!isMessage<MetricsRequest>(message, REQ)) return;
    registry.getMetricsAsJSON().then(
      (metrics) => reply({ type: RES, id: message.id, metrics }),
      (err: unknown) => reply({ type: RES, id: message.id, error: String(err) }),
    );
  };
  process.on('message', onMessage);
  return () => {
    process.off('message', onMessage);
  };
}

function reply(response: MetricsResponse): void {
  // The primary may be gone during shutdown; a lost answer only fails one scrape.
  if (process.connected) process.send?.(response);
}

/** Options of {@link createPrimaryAggregator}. */
export interface PrimaryAggregatorOptions {
  /** How long to wait for all workers; default 5000 ms (below Prometheus' 10 s scrape timeout). */
  timeoutMs?: number;
  /** Metrics of the primary process itself, merged with the workers'. Default none. */
  registry?: Registry;
}

/** The primary side of cluster aggregation. */
export interface PrimaryAggregator {
  /**
   * Asks every connected worker for its metrics and resolves to the merged
   * Prometheus text. With no worker connected, it is the primary's own
   * metrics (or empty). Rejects with `ZTP_INTERNAL` when a worker answers
   * with an error, exits before answering, or does not answer in time.
   */
  metrics(): Promise<string>;
  /** The content type of `metrics()` (Prometheus text 0.0.4). */
  readonly contentType: string;
  /** Stops listening for worker answers; pending scrapes reject. */
  close(): void;
}

interface Pending {
  waiting: Set<number>;
  parts: MetricsJson[];
  resolve: (text: string) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Primary side: creates the aggregator whose `metrics` the metrics listener
 * serves (`startMetricsListener({ aggregate: agg.metrics })`).
 *
 * @throws ZtpError `ZTP_INTERNAL` when called outside the cluster primary.
 */
export function createPrimaryAggregator(options: PrimaryAggregatorOptions = {}): PrimaryAggregator {
  if (!cluster.isPrimary) throw new ZtpError('ZTP_INTERNAL', 'metrics aggregator: not the cluster primary');
  const { timeoutMs = 5000, registry } = options;
  const pending = new Map<number, Pending>();
  let nextId = 0;

  const finish = (id: number, err?: Error): void => {
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    clearTimeout(p.timer);
    if (err) {
      p.reject(err);
      return;
    }
    AggregatorRegistry.aggregate(p.parts).metrics().then(p.resolve, (cause: unknown) => {
      p.reject(new ZtpError('ZTP_INTERNAL', 'metrics aggregation', { cause }));
    });
  };

  const onMessage = (worker: Worker, message: unknown): void => {
    if (!isMessage<MetricsResponse>(message, RES)) return;
    const p = pending.get(message.id);
    if (!p || !p.waiting.delete(worker.id)) return;
    if (message.error !== undefined || !Array.isArray(message.metrics)) {
      finish(message.id, new ZtpError('ZTP_INTERNAL', `metrics of worker ${worker.id}: ${message.error}`));
      return;
    }
    p.parts.push(message.metrics);
    if (p.waiting.size === 0) finish(message.id);
  };
  const onExit = (worker: Worker): void => {
    for (const [id, p] of pending) {
      if (p.waiting.has(worker.id)) finish(id, new ZtpError('ZTP_INTERNAL', `worker ${worker.id} exited during a scrape`));
    }
  };
  cluster.on('message', onMessage);
  cluster.on('exit', onExit);

  return {
    contentType: Registry.PROMETHEUS_CONTENT_TYPE,
    async metrics() {
      const own = registry ? [await registry.getMetricsAsJSON()] : [];
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && w.isConnected());
      if (workers.length === 0) return AggregatorRegistry.aggregate(own).metrics();
      const id = nextId++;
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          finish(id, new ZtpError('ZTP_INTERNAL', `metrics: workers did not answer within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, { waiting: new Set(workers.map((w) => w.id)), parts: own, resolve, reject, timer });
        const request: MetricsRequest = { type: REQ, id };
        for (const w of workers) w.send(request);
      });
    },
    close() {
      cluster.off('message', onMessage);
      cluster.off('exit', onExit);
      for (const id of [...pending.keys()]) finish(id, new ZtpError('ZTP_INTERNAL', 'metrics aggregator closed'));
    },
  };
}

function isMessage<T extends { type: string }>(message: unknown, type: T['type']): message is T {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;
}
