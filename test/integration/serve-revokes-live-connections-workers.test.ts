// --workers 2: the CRL change the primary sees reaches every worker, and each
// closes the revoked client's open connections it holds; the primary's
// /metrics counts them all.
import t from 'tap';
import { keepAlive, setupServe } from '../helpers/live-clients.js';
import { scrape, until } from '../helpers/cli.js';

t.test('a revocation closes the open connections of every worker', async (t) => {
  const { pki, alice, bob, p } = await setupServe(t, { workers: 2 });
  const port = await until(() => Number(/"listen":"127\.0\.0\.1:(\d+)"/.exec(p.output())?.[1] ?? 0), 'a worker listening', 600);
  await until(() => (p.output().match(/"msg":"ztproxy listening"/g) ?? []).length >= 2, 'both workers listening', 600);

  const N = 8;
  const alices = [];
  for (let i = 0; i < N; i++) {
    const c = keepAlive(t, port, pki.caCert, alice);
    t.equal((await c.get(`/alice-${i}`)).status, 200);
    const s = c.socket();
    alices.push(new Promise<void>((r) => s.once('close', () => r())));
  }
  const bobs = [keepAlive(t, port, pki.caCert, bob), keepAlive(t, port, pki.caCert, bob), keepAlive(t, port, pki.caCert, bob)];
  for (const b of bobs) t.equal((await b.get('/bob')).status, 200);
  // Each worker writes its access-log lines with its own pid.
  const servedBy = new Set([...p.output().matchAll(/"pid":(\d+)[^\n]*"msg":"request completed"/g)].map((m) => m[1]));
  t.equal(servedBy.size, 2, 'connections are spread over both workers');

  await pki.revoke(alice.serial);
  let closed = 0;
  for (const a of alices) void a.then(() => closed++);
  await until(() => closed === N, `all ${N} of alice's connections closed`, 300);
  t.pass(`all ${N} of alice's connections closed`);
  const closers = new Set([...p.output().matchAll(/"pid":(\d+)[^\n]*"msg":"connection closed: client certificate no longer verifies"/g)].map((m) => m[1]));
  t.equal(closers.size, 2, 'closed by both workers');
  for (const b of bobs) {
    t.equal((await b.get('/bob-after')).status, 200, "bob's connection still serves");
    t.equal(b.sockets(), 1, 'on the same connection');
  }
  await until(async () => (await scrape(p.metricsPort!, 'ztproxy_connections_revoked_total', { reason: 'revoked' })) === N, 'the aggregated count', 100);
  t.equal(await scrape(p.metricsPort!, 'ztproxy_connections_revoked_total', { reason: 'revoked' }), N, "the primary's /metrics counts both workers' closes");
  p.child.kill('SIGTERM');
  t.equal(await p.exited, 0);
});
