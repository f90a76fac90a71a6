// The TLS 1.2 suites ztproxy accepts, enumerated with real handshakes: one
// TLS 1.2 handshake per suite the client's OpenSSL knows (tls.getCiphers()),
// offering only that suite, against an ECDSA and an RSA server certificate.
// Then tls.profile modern (TLS 1.3 only) and a tls.ciphers override.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { resolveConfig } from '../../src/config/index.js';
import { makePki, type ClientFiles } from '../helpers/pki.js';
import { baseConfig, startProxy, startUpstream } from '../helpers/proxy.js';
import { haveOpenssl, openssl } from './hostile-harness.js';
import { skipUnlessInstalled } from '../helpers/tools.js';

/**
 * TLS 1.2 and older suite names (OpenSSL spelling): those Node lists (tls.getCiphers()) and those
 * `openssl ciphers ALL:COMPLEMENTOFALL` lists, which adds CCM, CCM8, ARIA and CAMELLIA.
 */
const CANDIDATES = [
  ...new Set([
    ...tls
      .getCiphers()
      .filter((c) => !c.startsWith('tls_'))
      .map((c) => c.toUpperCase()),
    ...(haveOpenssl ? spawnSync('openssl', ['ciphers', '-tls1_2', 'ALL:COMPLEMENTOFALL:@SECLEVEL=0'], { encoding: 'utf8' }).stdout.trim().split(':') : []),
  ]),
].filter((c) => c !== '' && !c.startsWith('TLS_'));
/** Candidates the client's OpenSSL could actually offer (tls.connect accepted the cipher string). */
const offered = new Set<string>();

/** Whether a handshake offering exactly `suite` (and `version`) completes; the suite the server chose. */
function handshake(port: number, ca: Buffer, client: ClientFiles, o: { suite?: string; version: tls.SecureVersion }): Promise<string | null> {
  return new Promise((resolve) => {
    let c: tls.TLSSocket;
    try {
      c = tls.connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ca,
      cert: client.certPem,
      key: client.keyPem,
      minVersion: o.version,
      maxVersion: o.version,
      ...(o.suite ? { ciphers: `${o.suite}:@SECLEVEL=0` } : {}),
      });
    } catch {
      resolve(null); // a suite this client's OpenSSL cannot offer
      return;
    }
    if (o.suite) offered.add(o.suite);
    c.on('secureConnect', () => {
      resolve(c.getCipher().name);
      c.destroy();
    });
    c.on('error', () => resolve(null));
  });
}

async function acceptedTls12(port: number, ca: Buffer, client: ClientFiles): Promise<string[]> {
  const out: string[] = [];
  for (const suite of CANDIDATES) {
    const got = await handshake(port, ca, client, { suite, version: 'TLSv1.2' });
    if (got !== null) out.push(got);
  }
  return out.sort();
}

t.test('intermediate (default): TLS 1.2 ECDHE with AES-GCM or ChaCha20-Poly1305, per key type', { skip: skipUnlessInstalled(haveOpenssl, 'openssl') }, async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const ca = readFileSync(pki.caCert);
  const alice = await pki.client('alice');
  const up = await startUpstream(t);
  t.ok(CANDIDATES.length > 30, `${CANDIDATES.length} candidate suites`);

  const ecdsa = await startProxy(t, baseConfig(pki, up.url));
  t.same(
    await acceptedTls12(ecdsa.port, ca, alice),
    ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305'],
    'ECDSA server certificate',
  );

  // An RSA 2048 server certificate from the same CA (the nginx migration path), minted with the openssl CLI.
  const key = join(dir, 'rsa.key');
  const csr = join(dir, 'rsa.csr');
  const crt = join(dir, 'rsa.crt');
  const ext = join(dir, 'rsa.ext');
  openssl(dir, ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', key]);
  openssl(dir, ['req', '-new', '-key', key, '-subj', '/CN=localhost', '-out', csr]);
  writeFileSync(ext, 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl(dir, ['x509', '-req', '-in', csr, '-CA', pki.caCert, '-CAkey', join(pki.caDir, 'ca.key'), '-CAcreateserial', '-days', '1', '-sha256', '-extfile', ext, '-out', crt]);
  const rsaRaw = baseConfig(pki, up.url);
  (rsaRaw.tls as Record<string, unknown>).cert = crt;
  (rsaRaw.tls as Record<string, unknown>).key = key;
  const rsa = await startProxy(t, rsaRaw);
  t.same(
    await acceptedTls12(rsa.port, ca, alice),
    ['ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-CHACHA20-POLY1305'],
    'RSA server certificate: no static-RSA suite (AES128-SHA, AES128-GCM-SHA256)',
  );
  for (const suite of ['AES128-SHA', 'ECDHE-RSA-AES128-SHA', 'ECDHE-ECDSA-AES128-CCM', 'ECDHE-ECDSA-AES128-CCM8', 'ECDHE-ECDSA-ARIA128-GCM-SHA256', 'ECDHE-RSA-CAMELLIA128-SHA256']) {
    t.ok(offered.has(suite), `the client offered ${suite}`);
  }

  t.match(await handshake(ecdsa.port, ca, alice, { version: 'TLSv1.3' }), /^TLS_/, 'TLS 1.3 is served');
});

t.test('profile modern: TLS 1.3 only; tls.ciphers overrides the TLS 1.2 list', async (t) => {
  const pki = await makePki(t.testdir());
  const ca = readFileSync(pki.caCert);
  const alice = await pki.client('alice');
  const up = await startUpstream(t);
  const modern = await startProxy(t, baseConfig(pki, up.url, { tls: { cert: pki.server.cert, key: pki.server.key, clientCA: pki.caCert, profile: 'modern' } }));
  t.equal(await handshake(modern.port, ca, alice, { version: 'TLSv1.2' }), null, 'modern: TLS 1.2 refused');
  t.match(await handshake(modern.port, ca, alice, { version: 'TLSv1.3' }), /^TLS_/, 'modern: TLS 1.3 served');

  const one = await startProxy(t, baseConfig(pki, up.url, { tls: { cert: pki.server.cert, key: pki.server.key, clientCA: pki.caCert, ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384' } }));
  t.same(await acceptedTls12(one.port, ca, alice), ['ECDHE-ECDSA-AES256-GCM-SHA384'], 'override: exactly the listed suite');
});

t.test('tls.ciphers and tls.profile are checked at load, naming the key', async (t) => {
  const pki = await makePki(t.testdir());
  const base = baseConfig(pki, 'http://127.0.0.1:1');
  const withTls = (extra: Record<string, unknown>) => ({ ...base, tls: { ...(base.tls as object), ...extra } });
  const err = (extra: Record<string, unknown>) => {
    try {
      resolveConfig(withTls(extra));
      return null;
    } catch (e) {
      return e as Error & { code?: string };
    }
  };
  const typo = err({ ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA265' });
  t.equal(typo?.code, 'ZTP_CONFIG_INVALID', 'one unknown suite among good ones is an error (OpenSSL alone would drop it)');
  t.match(typo?.message, /tls\.ciphers: OpenSSL .* knows no cipher suite "ECDHE-ECDSA-AES128-GCM-SHA265"/);
  t.match(err({ ciphers: 'TLS_AES_128_GCM_SHA256:TLS_NOPE' })?.message, /tls\.ciphers: .*"TLS_NOPE"/, 'TLS 1.3 names are checked too');
  t.match(err({ ciphers: '!NOSUCH:ECDHE+AESGCM' })?.message, /tls\.ciphers: .*"NOSUCH"/, 'exclusions are checked too');
  t.match(err({ ciphers: 'ECDHE+AESGCM:@SECLEVL=2' })?.message, /tls\.ciphers: unknown directive/);
  t.match(err({ profile: 'modern', minVersion: 'TLSv1.2' })?.message, /tls\.minVersion: TLSv1\.2 contradicts tls\.profile modern/);
  t.match(err({ profile: 'old' })?.message, /tls\.profile: expected "intermediate" or "modern"/);
  t.equal(err({ ciphers: 'ECDHE+AESGCM:!AES256:@SECLEVEL=2' }), null, 'a valid OpenSSL cipher string loads');
  t.equal(err({ profile: 'modern' }), null);
});
