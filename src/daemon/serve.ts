/**
 * `ztproxy serve`: load and check the config, then run one process
 * (single.ts) or a node:cluster primary (primary.ts) with its workers
 * (worker.ts). This entry only chooses; the modes share process-setup.ts,
 * reloader.ts, ticket-keys.ts, listen.ts and socket-activation.ts.
 * Resolves to the exit code.
 */
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { EXIT } from '../util/index.js';
import { checkSummary } from './check.js';
import { prepare, type ServeOptions } from './prepare.js';
import { runPrimary } from './primary.js';
import { runSingle } from './single.js';
import { runWorker } from './worker.js';

export type { ServeOptions } from './prepare.js';

export async function serve(o: ServeOptions): Promise<number> {
  if (cluster.isWorker) return runWorker(o);
  const prepared = await prepare(o);
  const { config } = prepared;
  if (o.check) {
    process.stdout.write((await checkSummary(config)) + '\n');
    return EXIT.ok;
  }
  const workers = config.workers === 'auto' ? availableParallelism() : config.workers;
  try {
    return await (workers > 1 ? runPrimary(prepared, workers) : runSingle(prepared));
  } catch (err) {
    await prepared.echo?.close();
    throw err;
  }
}
