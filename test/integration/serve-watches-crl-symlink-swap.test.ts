// A CRL in a Kubernetes Secret volume (crl.pem -> ..data/crl.pem, the kubelet
// swapping the ..data symlink to a new timestamped directory; no event names
// crl.pem) is picked up by the watcher, no signal, and reaches open
// connections: the revoked client's keep-alive connection, HTTP/2 session and
// WebSocket tunnel are closed.
import { copyFileSync, mkdirSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { assertRevokedClosed, openClients, setupServe } from '../helpers/live-clients.js';

t.test('CRL in a Kubernetes Secret volume: ..data swapped to a new directory', async (t) => {
  // The kubelet's atomic writer: files live in ..<timestamp>/, ..data points at the current one,
  // crl.pem -> ..data/crl.pem; an update writes a new directory and renames ..data_tmp over ..data.
  let vol = '';
  const { pki, alice, bob, p } = await setupServe(t, {
    crl: (pki) => {
      vol = join(pki.rootDir, '..', 'secret');
      mkdirSync(join(vol, '..2026_12_01_00_00_00.000000001'), { recursive: true });
      copyFileSync(pki.crl, join(vol, '..2026_12_01_00_00_00.000000001', 'crl.pem'));
      symlinkSync('..2026_12_01_00_00_00.000000001', join(vol, '..data'));
      symlinkSync('..data/crl.pem', join(vol, 'crl.pem'));
      return join(vol, 'crl.pem');
    },
  });
  const a = await openClients(t, p, pki, alice);
  const b = await openClients(t, p, pki, bob);
  await pki.revoke(alice.serial);
  const next = '..2026_12_01_00_01_00.000000002';
  mkdirSync(join(vol, next));
  copyFileSync(pki.crl, join(vol, next, 'crl.pem'));
  symlinkSync(next, join(vol, '..data_tmp'));
  renameSync(join(vol, '..data_tmp'), join(vol, '..data'));
  const replaced = performance.now();
  rmSync(join(vol, '..2026_12_01_00_00_00.000000001'), { recursive: true });
  await assertRevokedClosed(t, p, a, b, replaced);
  p.child.kill('SIGTERM');
  t.equal(await p.exited, 0);
});

