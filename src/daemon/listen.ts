/**
 * Binding the two listeners of a serving process, with the error an
 * operator can act on: `ZTP_LISTEN` naming the config key or flag that set
 * the address (a busy port, a privileged one) instead of a bare EADDRINUSE.
 */
import { isZtpError, ZtpError } from '../util/index.js';
import type { HostPort, ResolvedConfig } from '../config/index.js';
import { startMetricsListener, type MetricsListener, type MetricsListenerOptions, type Readiness } from '../metrics/index.js';
import { UpstreamProbe } from '../proxy/index.js';
import type { ProxyServer } from '../proxy/index.js';
import type { ListenKeys } from './prepare.js';

/**
 * Binds the mTLS listener of `server`, or adopts `handle` (socket activation).
 *
 * @throws ZtpError `ZTP_LISTEN` naming `key` and the address when it cannot be bound.
 */
export async function listenProxy(server: ProxyServer, key: string, handle?: { fd: number }): Promise<{ host: string; port: number }> {
  try {
    return await server.listen(handle);
  } catch (cause) {
    if (isZtpError(cause)) throw cause;
    const where = handle ? `socket-activated fd ${handle.fd}` : address(server.config.listenAddress);
    throw new ZtpError('ZTP_LISTEN', `${handle ? 'LISTEN_FDS' : key} ${where}: cannot listen`, { cause });
  }
}

/** The metrics endpoint of a process: its listener and the upstream probe behind /readyz. */
export interface MetricsEndpoint {
  readonly listener: MetricsListener | null;
  close(): Promise<void>;
}

export interface MetricsEndpointOptions {
  readonly config: ResolvedConfig;
  readonly keys: ListenKeys;
  /** The config in force (the probe follows reloads). */
  readonly current: () => ResolvedConfig;
  /** What this process serves on /metrics: its registry, or its workers' aggregate. */
  readonly source: Pick<MetricsListenerOptions, 'registry' | 'aggregate'>;
  /** The readiness of the process itself; /readyz adds upstream reachability. */
  readonly ready: () => Readiness;
}

/**
 * Starts the metrics listener and the upstream probe, or nothing when
 * `metrics.listen` is off.
 *
 * @throws ZtpError `ZTP_LISTEN` naming `metrics.listen` (or the flag) and the address.
 */
export async function startMetricsEndpoint(o: MetricsEndpointOptions): Promise<MetricsEndpoint> {
  const at = o.config.metricsAddress;
  if (!at) return { listener: null, close: async () => {} };
  const probe = new UpstreamProbe(o.current);
  probe.start();
  try {
    const listener = await startMetricsListener({
      host: at.host,
      port: at.port,
      name: o.keys.metrics,
      ...o.source,
      ready: () => {
        const own = o.ready();
        const u = probe.report();
        return { ok: own.ok && u.ok, checks: { ...own.checks, ...u.checks } };
      },
    });
    return {
      listener,
      close: async () => {
        probe.stop();
        await listener.close();
      },
    };
  } catch (err) {
    probe.stop();
    throw err;
  }
}

function address(a: HostPort): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
