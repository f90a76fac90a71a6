// A reload (SIGHUP) whose material still verifies a client leaves its open
// connections alone: the same keep-alive connection and HTTP/2 session go on
// serving, and nothing is counted as revoked.
import t from 'tap';
import { openClients, setupServe } from '../helpers/live-clients.js';
import { h2request } from '../helpers/h2.js';
import { scrape, until } from '../helpers/cli.js';

t.test('SIGHUP with unchanged material closes nothing', async (t) => {
  const { pki, alice, p } = await setupServe(t);
  const a = await openClients(t, p, pki, alice);
  p.child.kill('SIGHUP');
  await until(async () => (await scrape(p.metricsPort!, 'ztproxy_config_reloads_total', { result: 'ok' })) >= 1, 'the reload');
  t.equal((await a.h1.get('/again')).status, 200, 'keep-alive connection still serves');
  t.equal(a.h1.sockets(), 1, 'on the same connection');
  t.equal((await h2request(a.h2, { ':path': '/again' })).status, 200, 'HTTP/2 session still serves');
  t.equal(await scrape(p.metricsPort!, 'ztproxy_connections_revoked_total'), 0);
  p.child.kill('SIGTERM');
  t.equal(await p.exited, 0);
});
