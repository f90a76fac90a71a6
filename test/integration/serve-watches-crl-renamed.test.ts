// A CRL replaced by `mv new crl.pem` from another directory (a rename over the
// file, which a watch on the file's inode would miss) is picked up by the
// watcher, no signal, and reaches open connections: the revoked client's
// keep-alive connection, HTTP/2 session and WebSocket tunnel are closed.
import { copyFileSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { assertRevokedClosed, openClients, setupServe } from '../helpers/live-clients.js';

t.test('CRL replaced by `mv new crl.pem` from another directory', async (t) => {
  const { pki, alice, bob, p } = await setupServe(t, {
    crl: (pki) => {
      const live = join(pki.rootDir, '..', 'etc');
      mkdirSync(live);
      copyFileSync(pki.crl, join(live, 'crl.pem'));
      return join(live, 'crl.pem');
    },
  });
  const a = await openClients(t, p, pki, alice);
  const b = await openClients(t, p, pki, bob);
  await pki.revoke(alice.serial);
  const staged = join(pki.rootDir, '..', 'staged-crl.pem');
  copyFileSync(pki.crl, staged);
  renameSync(staged, join(pki.rootDir, '..', 'etc', 'crl.pem'));
  await assertRevokedClosed(t, p, a, b, performance.now());
  p.child.kill('SIGTERM');
  t.equal(await p.exited, 0);
});
