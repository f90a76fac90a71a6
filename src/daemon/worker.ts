/**
 * A node:cluster worker: proxies on the listening socket it shares through
 * its primary, applies the primary's reloads and ticket keys, answers its
 * metrics requests (metrics/cluster.ts), and drains on its stop message.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { describeError, isZtpError } from '../util/index.js';
import { ProxyServer } from '../proxy/index.js';
import { keysOf, parseToWorker, readWorkerEnv, send, sendAndWait, toPrimary, type ToWorker } from './ipc.js';
import { listenProxy } from './listen.js';
import { listenKeys, prepare, reloadConfig, type ServeOptions } from './prepare.js';
import { handleSignals, setupProcess, STOP_GRACE_MS } from './process-setup.js';
import { Reloader } from './reloader.js';

/** How long a starting worker waits for the cluster's ticket keys before it listens with its own. */
const KEYS_WAIT_MS = 5_000;

/** Serves until the primary says stop (or SIGTERM); resolves to the exit code. */
export async function runWorker(o: ServeOptions): Promise<number> {
  // Listen to the primary before anything async: its first ticket keys may come at once.
  const early: ToWorker[] = [];
  let deliver = (m: ToWorker) => void early.push(m);
  process.on('message', (raw: unknown) => {
    const m = parseToWorker(raw);
    if (m) deliver(m);
  });

  const start = readWorkerEnv();
  // The primary's effective flags (--dev paths, the echo upstream URL): the same config, no second echo upstream.
  const source = start ? { path: o.config, overrides: start.overrides } : (await prepare(o)).source;
  const config = await reloadConfig(source);
  const { log, flush, metrics } = setupProcess(config, 'worker');
  const server = await ProxyServer.create(config, { log, metrics });

  // The cluster's ticket keys: the primary sends them at start, every rotation and with every reload.
  let keys: Buffer | undefined;
  const reloader = new Reloader({
    log,
    apply: async () => {
      await server.reload(() => reloadConfig(source), keys);
      return server.config;
    },
  });
  const life = handleSignals('worker', {
    boundMs: config.limits.drainTimeoutMs + STOP_GRACE_MS,
    onOverrun: flush,
    drain: async () => {
      reloader.close();
      await server.close();
      flush();
    },
  });
  let keysArrived = () => {};
  const firstKeys = new Promise<void>((r) => (keysArrived = r));
  deliver = (m) => {
    if (m.type === 'ztproxy:stop') life.stop('stop message');
    if (m.type === 'ztproxy:ticket-keys') server.setTicketKeys((keys = keysOf(m)));
    if (m.type === 'ztproxy:reload') {
      keys = keysOf(m);
      reloader.reload('SIGHUP');
    }
    if (keys !== undefined) keysArrived();
  };
  for (const m of early.splice(0)) deliver(m);
  // Listen only with the cluster's ticket keys, so a ticket this worker issues resumes on every other
  // (the primary's first keys, sent when the worker came online, can arrive before its channel listener).
  if (keys === undefined) {
    send(process, toPrimary.wantKeys());
    const gaveUp = await Promise.race([firstKeys.then(() => false), delay(KEYS_WAIT_MS).then(() => true)]);
    if (gaveUp) log.warn({ waitedMs: KEYS_WAIT_MS }, 'no ticket keys from the primary; listening with this worker\'s own');
  }

  let address;
  try {
    address = await listenProxy(server, listenKeys(o).listen, start?.listenFd !== undefined ? { fd: start.listenFd } : undefined);
  } catch (err) {
    // A busy port stays busy: the primary ends with this error instead of restarting workers into it.
    if (isZtpError(err, 'ZTP_LISTEN')) await sendAndWait(process, toPrimary.failed(err.code, describeError(err)));
    reloader.close();
    await server.close(0);
    throw err;
  }
  log.info({ listen: `${address.host}:${address.port}` }, 'ztproxy listening');
  send(process, toPrimary.ready(address.port));
  return life.exited;
}
