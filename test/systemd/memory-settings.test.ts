/**
 * The memory settings the systemd units ship (issue 15, bench/MEMORY.md):
 *
 * - ztproxy.service's `Environment=NODE_OPTIONS=--max-semi-space-size=…`:
 *   Node accepts it from NODE_OPTIONS (a flag it does not allow there stops
 *   the service at start), it bounds V8's young generation where the
 *   runtime's default would grow past it, and ztproxy and its cluster
 *   workers run with it.
 * - its `Environment=LD_PRELOAD=libjemalloc.so.2`: ztproxy serves with
 *   jemalloc mapped in the primary and in every worker, and the loader
 *   finds the bare soname on its own search path (no per-architecture path).
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { makePki } from '../helpers/pki.js';
import { startUpstream } from '../helpers/proxy.js';
import { CHILD_ENV, childPids, scrape, startServe, until } from '../helpers/cli.js';
import { skipUnlessInstalled } from '../helpers/tools.js';
import { loaderFinds, systemdDir, unitEnvironment } from './unit-tools.js';

const MiB = 1024 * 1024;

const unitEnv = unitEnvironment(join(systemdDir, 'ztproxy.service'));
const nodeOptions = unitEnv.NODE_OPTIONS;
const semiSpaceMiB = Number(/--max-semi-space-size=(\d+)/.exec(nodeOptions ?? '')?.[1]);


/**
 * Allocates like a busy proxy (short-lived objects, a share surviving a
 * scavenge or two) and prints the young generation's size: both semi-spaces.
 */
const CHURN = `
const v8 = require('node:v8');
let keep = [];
for (let i = 0; i < 3e6; i++) { keep.push({ a: i, b: 'x' + i }); if (keep.length > 20000) keep = []; }
console.log(v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size);
`;

function youngGeneration(env: Record<string, string>): number {
  const r = spawnSync(process.execPath, ['-e', CHURN], { env: { ...CHILD_ENV, ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`node exited with ${r.status}: ${r.stderr}`);
  return Number(r.stdout.trim());
}

/** `n` requests over `parallel` keep-alive connections. */
async function load(port: number, ca: string, cert: string, key: string, n: number, parallel: number): Promise<number[]> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: parallel, ca: readFileSync(ca), cert: readFileSync(cert), key: readFileSync(key) });
  const statuses: number[] = [];
  const one = () =>
    new Promise<void>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', servername: 'localhost', port, path: '/', agent }, (res) => {
          statuses.push(res.statusCode!);
          res.resume();
          res.on('end', resolve);
        })
        .on('error', reject);
    });
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next++ < n) await one();
  }));
  agent.destroy();
  return statuses;
}

t.test('the unit caps V8\'s young generation through NODE_OPTIONS', async (t) => {
  t.ok(semiSpaceMiB > 0, `ztproxy.service sets NODE_OPTIONS=--max-semi-space-size=N (got ${JSON.stringify(nodeOptions)})`);
  const bounded = youngGeneration({ NODE_OPTIONS: nodeOptions! });
  const unbounded = youngGeneration({});
  t.comment(`young generation after the same churn: ${bounded / MiB} MiB with ${nodeOptions}, ${unbounded / MiB} MiB with ${process.version}'s default`);
  t.ok(bounded <= 2 * semiSpaceMiB * MiB, 'Node takes the flag from NODE_OPTIONS and keeps both semi-spaces within it');
  t.ok(unbounded > 2 * semiSpaceMiB * MiB, 'without it this runtime grows the young generation past the cap (the flag is not a no-op)');
});

t.test('ztproxy serves with the unit\'s NODE_OPTIONS, and its cluster workers inherit them', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const alice = await pki.client('alice');
  const up = await startUpstream(t, (_req, res) => {
    res.end('x'.repeat(4096));
    return true;
  });
  const common = ['--cert', pki.server.cert, '--key', pki.server.key, '--client-ca', pki.caCert, '--upstream', up.url, '--metrics-listen', '127.0.0.1:0'];

  const single = await startServe(t, ['--listen', '127.0.0.1:0', '--workers', '1', ...common], { NODE_OPTIONS: nodeOptions! });
  const statuses = await load(single.port, pki.caCert, alice.cert, alice.key, 3000, 20);
  t.equal(statuses.length, 3000);
  t.ok(statuses.every((s) => s === 200), 'every request answered 200');
  const young = await scrape(single.metricsPort!, 'nodejs_heap_space_size_total_bytes', { space: 'new' });
  t.comment(`ztproxy's young generation after 3000 proxied requests: ${(young / MiB).toFixed(1)} MiB`);
  t.ok(young > 0 && young <= 2 * semiSpaceMiB * MiB, 'the young generation stays within the cap');
  single.child.kill('SIGTERM');
  t.equal(await single.exited, 0);

  const cluster = await startServe(t, ['--listen', '127.0.0.1:0', '--workers', '2', ...common], { NODE_OPTIONS: nodeOptions! });
  const workers = await until(() => (childPids(cluster.child.pid!).length === 2 ? childPids(cluster.child.pid!) : null), 'two workers', 600);
  for (const pid of workers) {
    // tap's process tracking adds its own --import to NODE_OPTIONS of every child: look for the unit's flag in it.
    const opts = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').find((l) => l.startsWith('NODE_OPTIONS='));
    t.ok(opts?.includes(nodeOptions!), `worker ${pid} runs with the unit's NODE_OPTIONS`, { found: opts });
  }
  cluster.child.kill('SIGTERM');
  t.equal(await cluster.exited, 0);
});

const preload = unitEnv.LD_PRELOAD;

t.test('the unit preloads jemalloc: ztproxy serves on it, in the primary and its workers', { skip: skipUnlessInstalled(preload !== undefined && loaderFinds(preload), 'libjemalloc2', `apt-get install libjemalloc2 (${preload})`) }, async (t) => {
  t.equal(preload, 'libjemalloc.so.2', 'a bare soname: the loader searches its own paths on every architecture');
  const dir = t.testdir();
  const pki = await makePki(dir);
  const alice = await pki.client('alice');
  const up = await startUpstream(t);
  const p = await startServe(t, ['--listen', '127.0.0.1:0', '--workers', '2', '--cert', pki.server.cert, '--key', pki.server.key, '--client-ca', pki.caCert, '--upstream', up.url, '--metrics-listen', 'off'], { LD_PRELOAD: preload!, NODE_OPTIONS: nodeOptions! });
  const workers = await until(() => (childPids(p.child.pid!).length === 2 ? childPids(p.child.pid!) : null), 'two workers', 600);
  const port = await until(() => Number(/"listen":"127\.0\.0\.1:(\d+)"/.exec(p.output())?.[1] ?? 0), 'a worker listening', 600);
  await until(() => (p.output().match(/"msg":"ztproxy listening"/g) ?? []).length >= 2, 'both workers listening', 600);
  for (const pid of [p.child.pid!, ...workers]) {
    t.match(readFileSync(`/proc/${pid}/maps`, 'utf8'), /libjemalloc\.so\.2/, `process ${pid} has jemalloc mapped`);
  }
  const statuses = await load(port, pki.caCert, alice.cert, alice.key, 200, 10);
  t.ok(statuses.length === 200 && statuses.every((s) => s === 200), '200 requests answered 200');
  t.notMatch(p.output(), /ld\.so|cannot be preloaded/, 'the loader did not complain');
  p.child.kill('SIGTERM');
  t.equal(await p.exited, 0);
});
