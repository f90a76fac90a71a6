// Revocation reaches connections that are already open: after `ztproxy ca
// revoke` re-signs crl.pem (written to a temporary file and renamed over it),
// the revoked client's keep-alive HTTP/1.1 connection, HTTP/2 session (GOAWAY
// first) and WebSocket tunnel are closed, counted in
// ztproxy_connections_revoked_total and logged with the DN; another client's
// connections stay open and are served.
import t from 'tap';
import { assertRevokedClosed, openClients, setupServe } from '../helpers/live-clients.js';

t.test('CRL replaced by rename (ztproxy ca revoke writes crl.pem atomically)', async (t) => {
  const { pki, alice, bob, p } = await setupServe(t);
  const a = await openClients(t, p, pki, alice);
  const b = await openClients(t, p, pki, bob);
  await pki.revoke(alice.serial);
  await assertRevokedClosed(t, p, a, b, performance.now());
  p.child.kill('SIGTERM');
  t.equal(await p.exited, 0);
});
