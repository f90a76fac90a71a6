// Revocation reaches connections that are already open: after `ztproxy ca
// revoke` re-signs crl.pem (written to a temporary file and renamed over it),
// the revoked client's keep-alive HTTP/1.1 connection, HTTP/2 session (GOAWAY
// first) and WebSocket tunnel are closed, counted in
// ztproxy_connections_revoked_total and logged with the DN; another client's
// connections stay open and are served. A reload that changes nothing closes nothing.
import t from 'tap';
import { assertRevokedClosed, openClients, setupServe } from '../helpers/live-clients.js';
import { h2request } from '../helpers/h2.js';
import { scrape, until } from '../helpers/cli.js';

t.test('CRL replaced by rename (ztproxy ca revoke writes crl.pem atomically)', async (t) => {
  const { pki, alice, bob, p } = await setupServe(t);
  const a = await openClients(t, p, pki, alice);
  const b = await openClients(t, p, pki, bob);
  await pki.revoke(alice.serial);
  await assertRevokedClosed(t, p, a, b, performance.now());
  p.child.kill('SIGTERM');
  t.equal(await p.exited, 0);
});

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
