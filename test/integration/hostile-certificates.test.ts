// Hostile case 5: client certificates that must be refused in the handshake
// and counted under their reason: expired, not yet valid, unknown CA with a
// copied DN, self-signed with the CA's name, a CA certificate used as a client
// certificate, a certificate signed by a leaf, serverAuth-only EKU, a chain
// deeper than tls.verifyDepth, RSA < 2048 and a SHA-1 signature. The odd ones
// are minted with the openssl CLI in the test directory; each refusal is paired
// with a good client served by the same proxy, and the upstream never sees a
// refused client.
import t from 'tap';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makePki } from '../helpers/pki.js';
import { attempt, haveOpenssl, openssl, sample, startProxy, startUpstream, type ClientCert } from './hostile-harness.js';
import { skipUnlessInstalled } from '../helpers/tools.js';

const HOUR = 3600_000;

/** A client accepting any of our servers' weak-crypto choices, so that only the proxy decides. */
const LAX = { ciphers: 'DEFAULT@SECLEVEL=0' };

t.test('refused certificates, each under its reason', { skip: skipUnlessInstalled(haveOpenssl, 'openssl') }, async (t) => {
  const dir = t.testdir();
  const pki = await makePki(join(dir, 'pki'));
  const copycat = await makePki(join(dir, 'copycat')); // same CA name "ztproxy Test CA", different key
  const up = await startUpstream(t);
  const p = await startProxy(t, { pki, upstream: up });
  const caKey = join(pki.caDir, 'ca.key');
  const caCrt = join(pki.caDir, 'ca.crt');
  const w = join(dir, 'w');
  openssl(dir, ['version']);
  const { mkdirSync } = await import('node:fs');
  mkdirSync(w);

  const good = await pki.client('good');
  /** Signs a fresh key's CSR with `signer` using `-extfile` text; returns the client files. */
  const mint = (name: string, o: { keyAlg?: string[]; signerCrt?: string; signerKey?: string; ext?: string; digest?: string; chain?: string[] }): ClientCert => {
    const key = join(w, `${name}.key`);
    const csr = join(w, `${name}.csr`);
    const crt = join(w, `${name}.crt`);
    const ext = join(w, `${name}.ext`);
    openssl(w, ['genpkey', ...(o.keyAlg ?? ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']), '-out', key]);
    openssl(w, ['req', '-new', '-key', key, '-subj', `/CN=${name}`, '-out', csr]);
    writeFileSync(ext, o.ext ?? 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n');
    openssl(w, ['x509', '-req', '-in', csr, '-CA', o.signerCrt ?? caCrt, '-CAkey', o.signerKey ?? caKey, '-CAcreateserial', '-days', '1', `-${o.digest ?? 'sha256'}`, '-extfile', ext, '-out', crt]);
    if (o.chain) writeFileSync(crt, readFileSync(crt, 'latin1') + o.chain.map((f) => readFileSync(f, 'latin1')).join(''));
    return { cert: crt, key };
  };

  // Sanity: a certificate minted this way with sound parameters is served (the refusals below are about the one flaw each has).
  const control = mint('control', {});
  t.equal(await attempt(p.port, p.ca, control), 200, 'openssl-minted control certificate is served');

  const leafCa = await pki.client('leafca');
  const selfKey = join(w, 'self.key');
  const selfCrt = join(w, 'self.crt');
  openssl(w, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', selfKey, '-subj', '/CN=ztproxy Test CA', '-days', '1', '-addext', 'keyUsage=critical,digitalSignature,keyCertSign', '-out', selfCrt]);

  const cases: { name: string; client: ClientCert; reason: string; lax?: boolean }[] = [
    { name: 'expired', client: await pki.client('expired', { notBefore: new Date(Date.now() - 48 * HOUR), notAfter: new Date(Date.now() - 24 * HOUR) }), reason: 'expired' },
    { name: 'not yet valid', client: await pki.client('future', { notBefore: new Date(Date.now() + 24 * HOUR), notAfter: new Date(Date.now() + 48 * HOUR) }), reason: 'bad_certificate' }, // as docs/observability.md documents
    { name: 'unknown CA with a copied DN', client: await copycat.client('good'), reason: 'unknown_ca' },
    { name: "self-signed with the CA's name", client: { cert: selfCrt, key: selfKey }, reason: 'unknown_ca' },
    { name: 'the CA certificate used as a client certificate', client: { cert: caCrt, key: caKey }, reason: 'bad_certificate' },
    { name: 'signed by a leaf', client: mint('byleaf', { signerCrt: leafCa.cert, signerKey: leafCa.key, chain: [leafCa.cert] }), reason: 'bad_certificate' },
    { name: 'serverAuth-only EKU', client: mint('serveronly', { ext: 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' }), reason: 'bad_certificate' },
    { name: 'RSA 1024 key', client: mint('rsa1024', { keyAlg: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'] }), reason: 'bad_certificate', lax: true },
    { name: 'SHA-1 signature', client: mint('sha1', { digest: 'sha1' }), reason: 'bad_certificate', lax: true },
  ];
  const before: Record<string, number> = {};
  for (const r of new Set(cases.map((c) => c.reason))) before[r] = await sample(p.registry, 'ztproxy_tls_handshakes_total', { result: 'failed', reason: r });
  const want: Record<string, number> = {};
  for (const c of cases) {
    const failedBefore = await sample(p.registry, 'ztproxy_tls_handshakes_total', { result: 'failed', reason: c.reason });
    const got = await attempt(p.port, p.ca, c.client, c.lax ? { tls: LAX } : {});
    t.equal(got, 'refused', `${c.name}: refused in the handshake`);
    t.equal(await sample(p.registry, 'ztproxy_tls_handshakes_total', { result: 'failed', reason: c.reason }), failedBefore + 1, `${c.name}: counted as ${c.reason}`);
    want[c.reason] = (want[c.reason] ?? 0) + 1;
    t.equal(await attempt(p.port, p.ca, good), 200, `${c.name}: a good client is still served`);
  }
  for (const [r, n] of Object.entries(want)) t.equal(await sample(p.registry, 'ztproxy_tls_handshakes_total', { result: 'failed', reason: r }), before[r]! + n);
  t.equal(up.seen.length, cases.length + 1, 'only the good clients reached the upstream');
  t.ok(up.seen.every((r) => r.headers['x-client-subject-dn'] === 'CN=good' || r.headers['x-client-subject-dn'] === 'CN=control'));
});

t.test('tls.verifyDepth: a chain deeper than the limit is refused, one within it is served', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir, { intermediate: true }); // root -> intermediate -> leaf: depth 2 below the anchor
  const up = await startUpstream(t);
  const alice = await pki.client('alice');
  const shallow = await startProxy(t, { pki, upstream: up, tls: { verifyDepth: 1 } });
  t.equal(await attempt(shallow.port, shallow.ca, alice), 'refused', 'verifyDepth 1: leaf under an intermediate is refused');
  t.equal(await sample(shallow.registry, 'ztproxy_tls_handshakes_total', { result: 'failed', reason: 'bad_certificate' }), 1, 'counted as bad_certificate');
  t.equal(up.seen.length, 0);
  const exact = await startProxy(t, { pki, upstream: up, tls: { verifyDepth: 2 } });
  t.equal(await attempt(exact.port, exact.ca, alice), 200, 'verifyDepth 2: the same chain is served');
  const dflt = await startProxy(t, { pki, upstream: up });
  t.equal(await attempt(dflt.port, dflt.ca, alice), 200, 'default verifyDepth 3: served');
  t.equal(up.seen.length, 2);
  t.equal(up.seen[0]!.headers['x-client-subject-dn'], 'CN=alice');
});
