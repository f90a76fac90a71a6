// The index: serials are unique under concurrency, statuses are computed,
// revocation is idempotent and every revoke bumps the KRL version.
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initSshCA, signSshKey, revokeSshKey, listSshCertificates, fingerprintSha256 } from '../../src/sshca/index.js';
import { publicKeyBlob } from '../../src/sshca/public-key.js';

function writeKey(dir: string, name: string): string {
  const blob = publicKeyBlob(generateKeyPairSync('ed25519').publicKey);
  const path = join(dir, `${name}.pub`);
  writeFileSync(path, `ssh-ed25519 ${blob.toString('base64')} ${name}\n`);
  return path;
}

t.test('concurrent signs never share a serial', async (t) => {
  const dir = t.testdir();
  const ca = join(dir, 'ca');
  await initSshCA({ dir: ca });
  const keys = Array.from({ length: 8 }, (_, i) => writeKey(dir, `k${i}`));
  const certs = await Promise.all(keys.map((keyPath, i) => signSshKey({ dir: ca, keyPath, identity: `u${i}`, principals: 'root' })));
  t.same(certs.map((c) => c.serial).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8]);
  const listed = await listSshCertificates({ dir: ca });
  t.same(listed.map((c) => c.serial), [1, 2, 3, 4, 5, 6, 7, 8], 'every serial recorded, in order');
  for (const c of certs) {
    const written = readFileSync(c.certificatePath, 'utf8');
    t.equal(written, `${c.certificate}\n`);
  }
  t.notOk(readdirSync(ca).some((f) => f.endsWith('.tmp') || f === '.lock'), 'no temp files or lock left behind');
  const index = JSON.parse(readFileSync(join(ca, 'index.json'), 'utf8')) as { nextSerial: number };
  t.equal(index.nextSerial, 9);
});

t.test('list statuses and idempotent revocation', async (t) => {
  const dir = t.testdir();
  const ca = join(dir, 'ca');
  await initSshCA({ dir: ca, keyType: 'ecdsa-p256' });
  const now = Date.now();
  const a = writeKey(dir, 'a');
  const b = writeKey(dir, 'b');
  await signSshKey({ dir: ca, keyPath: a, identity: 'valid', principals: ['root', 'dev'] });
  await signSshKey({ dir: ca, keyPath: b, identity: 'expired', principals: 'root', validAfter: new Date(now - 7200_000), validBefore: new Date(now - 3600_000) });
  await signSshKey({ dir: ca, keyPath: b, identity: 'future', principals: 'root', validAfter: new Date(now + 3600_000), validBefore: new Date(now + 7200_000) });
  const c = await signSshKey({ dir: ca, keyPath: a, identity: 'host', principals: 'web1', host: true, ttl: '1d' });
  t.equal(c.certType, 'host');
  t.same((await listSshCertificates({ dir: ca })).map((e) => [e.keyId, e.status]), [
    ['valid', 'valid'], ['expired', 'expired'], ['future', 'not-yet-valid'], ['host', 'valid'],
  ]);

  const r1 = await revokeSshKey({ dir: ca, serial: 1 });
  t.same(r1.revokedSerials, [1]);
  const r2 = await revokeSshKey({ dir: ca, serial: 1 });
  t.same(r2.revokedSerials, [], 'revoking twice is harmless');
  t.equal(r2.krlVersion, r1.krlVersion + 1, 'every revoke writes a new KRL version');

  const r3 = await revokeSshKey({ dir: ca, keyPath: b });
  t.same(r3.revokedSerials, [2, 3], 'revoking a key marks all its certificates');
  t.equal(r3.revokedKey, fingerprintSha256(Buffer.from(readFileSync(b, 'utf8').split(' ')[1]!, 'base64')));
  const listed = await listSshCertificates({ dir: ca });
  t.same(listed.map((e) => e.status), ['revoked', 'revoked', 'revoked', 'valid']);
  t.ok(listed[0]!.revokedAt, 'revocation time recorded');
});
