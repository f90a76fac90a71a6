/** `workers: 1`: one process accepts, proxies, reloads and serves its own /metrics. */
import { ProxyServer } from '../proxy/index.js';
import { listenProxy, startMetricsEndpoint } from './listen.js';
import { printDevNote } from './notices.js';
import { reloadConfig, watchedFiles, type Prepared } from './prepare.js';
import { handleSignals, setupProcess, STOP_GRACE_MS } from './process-setup.js';
import { Reloader } from './reloader.js';
import { socketActivationHandle } from './socket-activation.js';
import { TicketKeyRotation } from './ticket-keys.js';

/** Serves until SIGTERM or SIGINT; resolves to the exit code. */
export async function runSingle(p: Prepared): Promise<number> {
  const { config, source } = p;
  const { log, flush, registry, metrics } = setupProcess(config, 'single');
  const server = await ProxyServer.create(config, { log, metrics });
  let endpoint;
  let address;
  try {
    address = await listenProxy(server, p.keys.listen, socketActivationHandle());
    endpoint = await startMetricsEndpoint({
      config,
      keys: p.keys,
      current: () => server.config,
      source: { registry },
      ready: () => ({ ok: server.listening, checks: { listening: server.listening } }),
    });
  } catch (err) {
    await server.close(0);
    throw err;
  }
  const metricsEndpoint = endpoint;
  log.info({ listen: `${address.host}:${address.port}`, metrics: metricsEndpoint.listener?.address() ?? null, routes: config.routes.map((r) => r.name) }, 'ztproxy listening');
  flush();
  printDevNote(address.port, p.devNote);

  const keys = new TicketKeyRotation((k) => server.setTicketKeys(k));
  const reloader = new Reloader({
    log,
    watch: { config, files: (c) => watchedFiles(c, source) },
    apply: async () => {
      await server.reload(() => reloadConfig(source), keys.next());
      return server.config;
    },
  });
  const life = handleSignals('single', {
    reload: () => reloader.reload('SIGHUP'),
    // The drain destroys what is left after drainTimeoutMs; this bounds everything after it too.
    boundMs: config.limits.drainTimeoutMs + STOP_GRACE_MS,
    onOverrun: () => {
      log.warn({ drainTimeoutMs: config.limits.drainTimeoutMs }, 'drain overran; exiting');
      flush();
    },
    drain: async (signal) => {
      log.info({ signal }, 'draining');
      reloader.close();
      keys.close();
      await server.close();
      await metricsEndpoint.close();
      await p.echo?.close();
      log.info({}, 'stopped');
      flush();
    },
  });
  return life.exited;
}
