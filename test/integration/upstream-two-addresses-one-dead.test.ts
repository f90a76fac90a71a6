// Several upstream addresses per route (upstream.urls): round-robin over the
// live ones, and passive health: an address whose connect fails is skipped
// for a while, and a bodiless request that met it is retried on the next
// address, so one dead app server fails no request.
import net from 'node:net';
import t from 'tap';
import { makePki } from '../helpers/pki.js';
import { baseConfig, metricValue, request, startProxy, startUpstream } from '../helpers/proxy.js';

/** A loopback port that refuses connections (bound, then closed). */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

t.test('two upstream addresses, one dead: every request succeeds', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice');
  const a = await startUpstream(t);
  const b = await startUpstream(t);
  const dead = `http://127.0.0.1:${await deadPort()}`;

  // Dead address first, so the very first request meets it.
  const p = await startProxy(t, baseConfig(pki, a.url, { routes: [{ name: 'pool', upstream: { urls: [dead, a.url, b.url] } }] }));
  const statuses: number[] = [];
  for (let i = 0; i < 12; i++) statuses.push((await request(p.port, pki.caCert, alice, { path: `/r${i}`, method: i % 3 === 0 ? 'HEAD' : 'GET' })).status);
  t.same(statuses, Array(12).fill(200), 'every request succeeded');
  t.equal(a.requests.length + b.requests.length, 12, 'each served exactly once by a live address');
  t.ok(a.requests.length >= 4 && b.requests.length >= 4, `round-robin over the live addresses (${a.requests.length}/${b.requests.length})`);
  t.ok(a.requests.every((r) => r.headers['x-client-subject-dn'] === 'CN=alice'), 'identity on every address');
  t.equal(await metricValue(p.registry, 'ztproxy_http_requests_total', { route: 'pool', code: '200' }), 12);
  t.equal(await metricValue(p.registry, 'ztproxy_upstream_errors_total', { route: 'pool' }), 0, 'a retried connect failure is not a failed request');

  // Every address dead: 502, counted as a connect error.
  const allDead = await startProxy(t, baseConfig(pki, a.url, { routes: [{ name: 'gone', upstream: { urls: [dead, `http://127.0.0.1:${await deadPort()}`] } }] }));
  t.equal((await request(allDead.port, pki.caCert, alice, { path: '/x' })).status, 502, 'all addresses dead: 502');
  t.equal(await metricValue(allDead.registry, 'ztproxy_upstream_errors_total', { route: 'gone', kind: 'connect' }), 1);
});
