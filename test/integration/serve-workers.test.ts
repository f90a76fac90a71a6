// --workers 2: two worker processes serve behind one primary; killing one,
// the primary replaces it and requests keep succeeding; the primary's
// /metrics counts the requests of both workers.
import t from 'tap';
import { makePki } from '../helpers/pki.js';
import { request, startUpstream } from '../helpers/proxy.js';
import { childPids, scrape, startServe, until } from '../helpers/cli.js';

t.test('two workers, one replaced after it dies, metrics aggregated', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const alice = await pki.client('alice');
  const up = await startUpstream(t);
  const p = await startServe(t, ['--listen', '127.0.0.1:0', '--cert', pki.server.cert, '--key', pki.server.key, '--client-ca', pki.caCert, '--upstream', up.url, '--metrics-listen', '127.0.0.1:0', '--workers', '2']);
  const primary = p.child.pid!;
  const workers = await until(() => (childPids(primary).length === 2 ? childPids(primary) : null), 'two workers', 600);
  t.equal(workers.length, 2, 'two worker processes');
  // Workers listen once they log it; find the shared port.
  const port = await until(() => Number(/"listen":"127\.0\.0\.1:(\d+)"/.exec(p.output())?.[1] ?? 0), 'a worker listening', 600);
  await until(() => (p.output().match(/"msg":"ztproxy listening"/g) ?? []).length >= 2, 'both workers listening', 600);

  const N = 20;
  for (let i = 0; i < N; i++) t.equal((await request(port, pki.caCert, alice, { path: `/a${i}` })).status, 200);
  // Each worker writes its access log lines with its own pid.
  const servedBy = new Set([...p.output().matchAll(/"pid":(\d+)[^\n]*"msg":"request completed"/g)].map((m) => Number(m[1])));
  t.equal(servedBy.size, 2, 'both workers served requests');
  t.equal(await scrape(p.metricsPort!, 'ztproxy_http_requests_total', { route: 'default' }), N, 'primary /metrics counts the requests of both');
  t.equal(await scrape(p.metricsPort!, 'ztproxy_tls_handshakes_total', { result: 'ok' }), N);

  process.kill(workers[0]!, 'SIGKILL');
  const replaced = await until(() => {
    const now = childPids(primary);
    return now.length === 2 && !now.includes(workers[0]!) ? now : null;
  }, 'a replacement worker', 600);
  t.notOk(replaced.includes(workers[0]!), 'the dead worker is replaced');
  await until(() => (p.output().match(/"msg":"ztproxy listening"/g) ?? []).length >= 3, 'the replacement listening', 600);
  for (let i = 0; i < N; i++) t.equal((await request(port, pki.caCert, alice, { path: `/b${i}` })).status, 200, `request ${i} after the crash`);
  t.match(p.output(), /worker exited; restarting/);

  p.child.kill('SIGTERM');
  t.equal(await p.exited, 0, 'primary drains its workers and exits 0');
  t.equal(childPids(primary).length, 0);
});
