/**
 * Issuance checked by OpenSSL as the oracle: chains verify, profiles carry
 * the right EKU/SANs, validity overrides work, the .p12 opens without
 * -legacy, files have the right modes, and bad input writes nothing.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initCA, initIntermediateCA, issueClient, issueServer, listCertificates } from '../../src/ca/index.js';
import { makePki } from '../helpers/pki.js';

function openssl(...args: string[]): { code: number; out: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

t.test('root CA: server and client leaves verify and carry their profile', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice', { ou: ['dev', 'ops'], o: 'Example', email: 'alice@example.internal', uri: ['spiffe://example.internal/alice'] });
  t.equal(openssl('verify', '-CAfile', pki.caCert, pki.server.cert, alice.cert).code, 0);

  const srv = openssl('x509', '-in', pki.server.cert, '-noout', '-text').out;
  t.match(srv, /TLS Web Server Authentication/);
  t.notMatch(srv, /TLS Web Client Authentication/);
  t.match(srv, /DNS:localhost/);
  t.match(srv, /IP Address:127\.0\.0\.1/);
  t.match(srv, /CA:FALSE/);

  const cli = openssl('x509', '-in', alice.cert, '-noout', '-text', '-nameopt', 'RFC2253').out;
  t.match(cli, /TLS Web Client Authentication/);
  t.match(cli, /email:alice@example\.internal/);
  t.match(cli, /URI:spiffe:\/\/example\.internal\/alice/);
  t.match(openssl('x509', '-in', alice.cert, '-noout', '-subject', '-nameopt', 'RFC2253').out, 'subject=CN=alice,OU=ops,OU=dev,O=Example');

  // serial: lower-case hex, same as the certificate's
  t.match(alice.serial, /^[0-9a-f]{32}$/);
  t.equal(openssl('x509', '-in', alice.cert, '-noout', '-serial').out.trim().toLowerCase(), `serial=${alice.serial}`);

  // default client TTL 8h (+ the clock-skew backdating of notBefore)
  const [nb, na] = ['-startdate', '-enddate'].map((f) => Date.parse(openssl('x509', '-in', alice.cert, '-noout', f).out.split('=')[1]!));
  t.ok(na! - Date.now() <= 8 * 3600_000 && na! - Date.now() > 8 * 3600_000 - 120_000, 'notAfter about now + 8h');
  t.ok(nb! < Date.now() - 30_000, 'notBefore backdated');

  // modes: keys 0600, certs 0644
  t.equal(statSync(alice.key).mode & 0o777, 0o600);
  t.equal(statSync(alice.p12).mode & 0o777, 0o600);
  t.equal(statSync(alice.cert).mode & 0o777, 0o644);
  t.equal(statSync(join(pki.caDir, 'ca.key')).mode & 0o777, 0o600);

  // PKCS#12 opens with OpenSSL 3 without -legacy, key and both certs inside
  const p12 = openssl('pkcs12', '-in', alice.p12, '-passin', `pass:${pki.p12Password}`, '-nodes');
  t.equal(p12.code, 0, p12.out);
  t.match(p12.out, /BEGIN PRIVATE KEY/);
  t.equal(openssl('pkcs12', '-in', alice.p12, '-passin', 'pass:wrong', '-nodes').code === 0, false, 'wrong p12 password refused');
});

t.test('intermediate: leaves carry the intermediate and chain to the root', async (t) => {
  const pki = await makePki(t.testdir(), { intermediate: true });
  const bob = await pki.client('bob');
  t.equal(readFileSync(bob.cert, 'utf8').match(/BEGIN CERTIFICATE/g)?.length, 2, 'leaf + intermediate');
  t.equal(openssl('verify', '-CAfile', pki.caCert, '-untrusted', bob.cert, bob.cert).code, 0);
  t.equal(openssl('verify', '-CAfile', pki.caCert, '-untrusted', join(pki.caDir, 'ca.crt'), pki.server.cert).code, 0);
  t.not(openssl('verify', '-CAfile', pki.caCert, bob.cert).code, 0, 'the leaf alone does not verify without the intermediate');
  const rootList = await listCertificates({ dir: pki.rootDir });
  t.same(rootList.map((r) => r.profile), ['intermediate']);
  t.match(openssl('x509', '-in', join(pki.caDir, 'ca.crt'), '-noout', '-text').out, /CA:TRUE, pathlen:0/);
});

t.test('validity overrides mint expired and not-yet-valid certificates', async (t) => {
  const pki = await makePki(t.testdir());
  const hour = 3600_000;
  const expired = await pki.client('old', { notBefore: new Date(Date.now() - 3 * hour), notAfter: new Date(Date.now() - hour) });
  const future = await pki.client('future', { notBefore: new Date(Date.now() + hour), notAfter: new Date(Date.now() + 3 * hour) });
  t.match(openssl('verify', '-CAfile', pki.caCert, expired.cert).out, /certificate has expired/);
  t.match(openssl('verify', '-CAfile', pki.caCert, future.cert).out, /certificate is not yet valid/);
  const rows = await listCertificates({ dir: pki.caDir });
  t.equal(rows.find((r) => r.serial === expired.serial)?.status, 'expired');
  t.equal(rows[0]?.serial, expired.serial, 'sorted by expiry');
});

t.test('key types and an encrypted CA key', async (t) => {
  const dir = t.testdir();
  for (const keyType of ['ed25519', 'rsa-2048', 'ec-p384']) {
    const ca = join(dir, keyType);
    await initCA({ dir: ca, keyType, passphrase: 's3cret' });
    t.match(readFileSync(join(ca, 'ca.key'), 'utf8'), /BEGIN ENCRYPTED PRIVATE KEY/);
    const leaf = await issueServer({ dir: ca, dns: ['api.internal'], outDir: join(dir, `${keyType}-out`), passphrase: 's3cret', keyType });
    t.equal(openssl('verify', '-CAfile', join(ca, 'ca.crt'), leaf.certPath).code, 0, keyType);
  }
  const ca = join(dir, 'ed25519');
  const out = join(dir, 'nothing');
  await t.rejects(issueClient({ dir: ca, cn: 'x', outDir: out, passphrase: 'wrong' }), { code: 'ZTP_CA_PASSPHRASE' });
  await t.rejects(issueClient({ dir: ca, cn: 'x', outDir: out }), { code: 'ZTP_CA_PASSPHRASE' });
  t.throws(() => readdirSync(out), 'nothing written');
});

t.test('bad input is refused before anything is written', async (t) => {
  const dir = t.testdir();
  const ca = join(dir, 'ca');
  await initCA({ dir: ca, ttlSeconds: 30 * 86400 });
  const before = readFileSync(join(ca, 'index.json'), 'utf8');
  const out = join(dir, 'out');
  await t.rejects(issueClient({ dir: ca, cn: 'a\u0000b', outDir: out }), { code: 'ZTP_CA_INVALID_INPUT' });
  await t.rejects(issueClient({ dir: ca, cn: 'a\nb', outDir: out }), { code: 'ZTP_CA_INVALID_INPUT' });
  await t.rejects(issueClient({ dir: ca, cn: 'ok', outDir: out, keyType: 'dsa-1024' }), { code: 'ZTP_CA_INVALID_INPUT' });
  await t.rejects(issueClient({ dir: ca, cn: 'ok', outDir: out, ttlSeconds: 31 * 86400 }), { code: 'ZTP_CA_TTL' });
  await t.rejects(issueServer({ dir: ca, dns: ['bad name'], outDir: out }), { code: 'ZTP_CA_INVALID_INPUT' });
  await t.rejects(issueServer({ dir: ca, dns: ['ok.internal'], ip: ['300.1.1.1'], outDir: out }), { code: 'ZTP_CA_INVALID_INPUT' });
  await t.rejects(initCA({ dir: ca }), { code: 'ZTP_CA_EXISTS' });
  await t.rejects(initCA({ dir: join(dir, 'ca2'), keyType: 'dsa' }), { code: 'ZTP_CA_INVALID_INPUT' });
  await t.rejects(initIntermediateCA({ dir: join(dir, 'int'), parentDir: ca, ttlSeconds: 60 * 86400 }), { code: 'ZTP_CA_TTL' });
  t.throws(() => readdirSync(out), 'no output directory');
  t.throws(() => readdirSync(join(dir, 'ca2')), 'no second store');
  t.throws(() => readdirSync(join(dir, 'int')), 'no intermediate store');
  t.equal(readFileSync(join(ca, 'index.json'), 'utf8'), before, 'index unchanged');
});

t.test('name constraints: permitted subtree verifies, anything else is rejected by openssl', async (t) => {
  const base = t.testdir();
  const pki = await makePki(base, { permitDns: ['.internal', 'localhost'], permitIp: ['127.0.0.0/8'] });
  const text = openssl('x509', '-in', pki.caCert, '-noout', '-text').out;
  t.match(text, /X509v3 Name Constraints: critical/);
  t.match(text, /DNS:internal/);
  t.match(text, /IP:127\.0\.0\.0\/255\.0\.0\.0/);
  t.equal(openssl('verify', '-CAfile', pki.caCert, pki.server.cert).code, 0, 'localhost + 127.0.0.1 are inside');
  const dir = join(base, 'nc');
  const inside = await issueServer({ dir: pki.caDir, dns: ['api.internal'], outDir: dir });
  t.equal(openssl('verify', '-CAfile', pki.caCert, inside.certPath).code, 0);
  // The library signs what it is asked to; the relying party enforces the constraint.
  const outside = await issueServer({ dir: pki.caDir, dns: ['example.com'], outDir: dir });
  const r = openssl('verify', '-CAfile', pki.caCert, outside.certPath);
  t.not(r.code, 0);
  t.match(r.out, /name constraint|permitted subtree/i);
});
