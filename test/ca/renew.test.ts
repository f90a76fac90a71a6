/**
 * Renewal keeps subject, SANs and key and rewrites the file atomically; the
 * daemon renews a short-lived (6 s) certificate and runs --exec after it.
 * No timing assertions: the daemon is awaited with maxRenewals and the tap
 * timeout is the bound.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { issueServer, renewCertificate, runRenewDaemon, nextRenewalDelayMs } from '../../src/ca/index.js';
import { makePki } from '../helpers/pki.js';

const x509 = (f: string, ...args: string[]): string => spawnSync('openssl', ['x509', '-in', f, '-noout', ...args], { encoding: 'utf8' }).stdout;

t.test('renewCertificate keeps subject, SANs and key', async (t) => {
  const pki = await makePki(t.testdir(), { intermediate: true });
  const alice = await pki.client('alice', { ou: ['dev'], uri: ['spiffe://example.internal/alice'] });
  const r = await renewCertificate({ dir: pki.caDir, certPath: alice.cert, keyPath: alice.key });
  t.not(r.serial, alice.serial);
  t.equal(x509(alice.cert, '-subject', '-nameopt', 'RFC2253'), 'subject=CN=alice,OU=dev\n');
  t.match(x509(alice.cert, '-text'), /URI:spiffe:\/\/example\.internal\/alice/);
  t.match(x509(alice.cert, '-text'), /TLS Web Client Authentication/);
  t.equal(x509(alice.cert, '-pubkey'), spawnSync('openssl', ['pkey', '-in', alice.key, '-pubout'], { encoding: 'utf8' }).stdout, 'same key');
  t.equal(readFileSync(alice.cert, 'utf8').match(/BEGIN CERTIFICATE/g)?.length, 2, 'leaf + intermediate');
  t.equal(spawnSync('openssl', ['verify', '-CAfile', pki.caCert, '-untrusted', alice.cert, alice.cert]).status, 0);
  await t.rejects(renewCertificate({ dir: pki.caDir, certPath: alice.cert, keyPath: pki.server.key }), { code: 'ZTP_CA_INVALID_INPUT' });
});

t.test('nextRenewalDelayMs: 2/3 of the lifetime, jitter only earlier', async (t) => {
  const nb = new Date(0);
  const na = new Date(300_000);
  t.equal(nextRenewalDelayMs(nb, na, nb, () => 0), 200_000);
  t.equal(nextRenewalDelayMs(nb, na, nb, () => 0.999), 170_030);
  t.equal(nextRenewalDelayMs(nb, na, new Date(250_000), () => 0), 0);
});

t.test('daemon renews a 6s certificate and runs --exec', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const leaf = await issueServer({ dir: pki.caDir, dns: ['svc.internal'], ttlSeconds: 6, outDir: join(dir, 'svc') });
  const marker = join(dir, 'reloaded');
  const lines: string[] = [];
  const n = await runRenewDaemon({ dir: pki.caDir, certPath: leaf.certPath, keyPath: leaf.keyPath, exec: `echo ok >> '${marker}'`, maxRenewals: 2, log: (l) => lines.push(l) });
  t.equal(n, 2);
  t.equal(readFileSync(marker, 'utf8'), 'ok\nok\n', 'exec ran after each renewal');
  const serial = x509(leaf.certPath, '-serial').trim().split('=')[1]!.toLowerCase();
  t.not(serial, leaf.serial, 'certificate replaced');
  t.match(lines.join('\n'), /renewed/);

  const ac = new AbortController();
  const p = runRenewDaemon({ dir: pki.caDir, certPath: pki.server.cert, keyPath: pki.server.key, signal: ac.signal, log: () => {} });
  ac.abort();
  t.equal(await p, 0, 'abort stops the daemon without renewing');
  t.ok(existsSync(pki.server.cert));
});
