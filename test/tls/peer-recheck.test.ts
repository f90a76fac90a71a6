// PeerRecheck against OpenSSL: for each case, a real handshake with the
// material (as ProxyServer configures it) gives OpenSSL's verdict on the
// client, and PeerRecheck checks the very certificate chain that handshake
// received. Both must agree: a live connection is closed exactly when a new
// handshake with that certificate would be refused, and for the same reason.
import { readFileSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import tls from 'node:tls';
import t from 'tap';
import { initCA, revoke, writeCrl } from '../../src/ca/index.js';
import { resolveConfig } from '../../src/config/index.js';
import { ProxyServer } from '../../src/proxy/server.js';
import { chainViolation, loadTlsMaterial, PeerRecheck, verifyFailureReason } from '../../src/tls/index.js';
import { makePki, type ClientFiles, type Pki } from '../helpers/pki.js';

interface Verdicts {
  openssl: string | null;
  recheck: string | null;
}

/** Handshakes `client` against a server with `clientCA` and `crl`; returns both verdicts ('ok' → null). */
async function verdicts(pki: Pki, client: ClientFiles, clientCA: string, crl: string | undefined, now?: number): Promise<Verdicts> {
  const config = resolveConfig({ tls: { cert: pki.server.cert, key: pki.server.key, clientCA, ...(crl ? { crl } : {}) }, routes: [{ name: 'r', upstream: 'http://127.0.0.1:1' }] });
  const m = await loadTlsMaterial(config);
  const recheck = new PeerRecheck(m.clientCAs, config.tls.verifyDepth, m.crlDer);
  const server = tls.createServer({ ...m.options, requestCert: true, rejectUnauthorized: false, secureOptions: ProxyServer.secureOptions(config) });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const got = new Promise<Verdicts>((resolve) =>
      server.once('secureConnection', (s: tls.TLSSocket) => {
        const cert = s.getPeerX509Certificate()!;
        let openssl: string | null = s.authorized ? null : verifyFailureReason(s.authorizationError as unknown as string, true);
        if (openssl === null && chainViolation(cert, m.clientCAs, config.tls.verifyDepth) !== null) openssl = 'bad_certificate';
        resolve({ openssl, recheck: recheck.check(cert, now) });
        s.destroy();
      }),
    );
    const c = tls.connect({ host: '127.0.0.1', port: (server.address() as { port: number }).port, servername: 'localhost', ca: readFileSync(pki.caCert), cert: readFileSync(client.cert), key: readFileSync(client.key) });
    c.on('error', () => {});
    const v = await got;
    c.destroy();
    return v;
  } finally {
    server.close();
  }
}

/** Both CRLs (root's and the intermediate's) in one file. */
function bothCrls(pki: Pki, dir: string): string {
  const f = join(dir, 'crls.pem');
  writeFileSync(f, Buffer.concat([readFileSync(join(pki.rootDir, 'crl.pem')), readFileSync(pki.crl)]));
  return f;
}

t.test('a CA issuing leaves directly', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const alice = await pki.client('alice');
  const bob = await pki.client('bob');
  const other = await initCA({ dir: join(dir, 'other'), name: 'ztproxy Test CA', ttlSeconds: 86400 });

  t.same(await verdicts(pki, alice, pki.caCert, undefined), { openssl: null, recheck: null }, 'no CRL: verifies');
  t.same(await verdicts(pki, alice, pki.caCert, pki.crl), { openssl: null, recheck: null }, 'CRL without alice: verifies');
  await revoke({ dir: pki.caDir, serial: alice.serial });
  t.same(await verdicts(pki, alice, pki.caCert, pki.crl), { openssl: 'revoked', recheck: 'revoked' }, 'alice revoked');
  t.same(await verdicts(pki, bob, pki.caCert, pki.crl), { openssl: null, recheck: null }, 'bob not');
  t.same(await verdicts(pki, bob, other.certPath, undefined), { openssl: 'unknown_ca', recheck: 'unknown_ca' }, 'client CA replaced by another one with the same name');
  const both = join(dir, 'both-cas.pem');
  writeFileSync(both, Buffer.concat([readFileSync(other.certPath), readFileSync(pki.caCert)]));
  t.same(await verdicts(pki, bob, both, undefined), { openssl: null, recheck: null }, 'a second CA added to the bundle');
  // A CRL with the right issuer name signed by another key: OpenSSL fails the CRL signature.
  t.same(await verdicts(pki, bob, pki.caCert, join(dir, 'other', 'crl.pem')), { openssl: 'bad_certificate', recheck: 'bad_certificate' }, 'CRL not signed by the CA');
});

t.test('a CRL past its nextUpdate', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice');
  await writeCrl({ dir: pki.caDir, nextUpdateSeconds: 1 });
  await new Promise((r) => setTimeout(r, 2100));
  t.same(await verdicts(pki, alice, pki.caCert, pki.crl), { openssl: 'bad_certificate', recheck: 'bad_certificate' }, 'OpenSSL refuses an expired CRL');
});

t.test('a leaf past its notAfter', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice');
  const v = await verdicts(pki, alice, pki.caCert, pki.crl, Date.parse(new X509Certificate(readFileSync(alice.cert)).validTo) + 1000);
  t.equal(v.recheck, 'expired', 'checked at a time past its notAfter');
});

t.test('an intermediate between the root and the leaves', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir, { intermediate: true });
  const alice = await pki.client('alice');
  t.same(await verdicts(pki, alice, pki.caCert, bothCrls(pki, dir)), { openssl: null, recheck: null }, 'both CRLs: verifies');
  t.same(await verdicts(pki, alice, pki.caCert, pki.crl), { openssl: 'bad_certificate', recheck: 'bad_certificate' }, "no CRL of the root (covering the intermediate): UNABLE_TO_GET_CRL");
  await revoke({ dir: pki.caDir, serial: alice.serial });
  t.same(await verdicts(pki, alice, pki.caCert, bothCrls(pki, dir)), { openssl: 'revoked', recheck: 'revoked' }, 'leaf revoked by the intermediate');
  const bob = await pki.client('bob');
  const intSerial = new X509Certificate(readFileSync(join(pki.caDir, 'ca.crt'))).serialNumber;
  await revoke({ dir: pki.rootDir, serial: intSerial });
  t.same(await verdicts(pki, bob, pki.caCert, bothCrls(pki, dir)), { openssl: 'revoked', recheck: 'revoked' }, 'intermediate revoked by the root');
});
