/**
 * sign-csr copies the request's subject Name byte for byte (the DN tests
 * elsewhere rely on it to mint hostile subjects) and refuses requests whose
 * signature does not verify.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { signCsr } from '../../src/ca/index.js';
import { certSubjectDer, csrSubjectDer, tlv } from '../../src/ca/der.js';
import { makePki } from '../helpers/pki.js';

function openssl(args: string[]): { code: number; out: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}
const der = (pem: string): Buffer => Buffer.from(pem.split('-----')[2]!.replace(/\s+/g, ''), 'base64');

t.test('openssl CSR with multi-valued RDNs, UTF-8 and an unknown OID', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const csr = join(dir, 'req.csr');
  const r = openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'req.key'), '-out', csr, '-utf8', '-multivalue-rdn',
    '-subj', '/O=Ex, "Q"/OU=dev+OU=ops/CN=Bjørn Åse+1.2.3.4=weird/emailAddress=a@b.internal', '-addext', 'subjectAltName=DNS:api.internal,URI:spiffe://example.internal/svc']);
  t.equal(r.code, 0, r.out);
  const out = join(dir, 'leaf.crt');
  const res = await signCsr({ dir: pki.caDir, csr: readFileSync(csr, 'utf8'), profile: 'server', outPath: out });
  t.match(res.serial, /^[0-9a-f]+$/);
  t.ok(certSubjectDer(der(readFileSync(out, 'utf8'))).equals(csrSubjectDer(der(readFileSync(csr, 'utf8')))), 'subject DER identical');
  const subj = (cmd: string, f: string): string => openssl([cmd, '-in', f, '-noout', '-subject', '-nameopt', 'RFC2253']).out.trim();
  t.equal(subj('x509', out), subj('req', csr));
  const text = openssl(['x509', '-in', out, '-noout', '-text']).out;
  t.match(text, /DNS:api\.internal/);
  t.match(text, /URI:spiffe:\/\/example\.internal\/svc/);
  t.match(text, /TLS Web Server Authentication/);
  t.equal(openssl(['verify', '-CAfile', pki.caCert, out]).code, 0);
});

t.test('hand-made CSR: NUL bytes, unknown OID, unsorted multi-valued RDN survive verbatim', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const oid = (hex: string): Buffer => tlv(0x06, Buffer.from(hex, 'hex'));
  const atv = (o: Buffer, v: Buffer): Buffer => tlv(0x30, Buffer.concat([o, v]));
  const subject = tlv(0x30, Buffer.concat([
    tlv(0x31, atv(oid('550403'), tlv(0x0c, Buffer.from('a\u0000b,c', 'utf8')))),
    tlv(0x31, Buffer.concat([atv(oid('550404'), tlv(0x13, Buffer.from('z'))), atv(oid('2a0304'), tlv(0x0c, Buffer.from('\u00e6\u0000', 'utf8')))])),
  ]));
  const cri = tlv(0x30, Buffer.concat([tlv(0x02, Buffer.from([0])), subject, keys.publicKey.export({ type: 'spki', format: 'der' }), Buffer.from([0xa0, 0x00])]));
  const sig = sign('sha256', cri, keys.privateKey);
  const csrDer = tlv(0x30, Buffer.concat([cri, tlv(0x30, oid('2a8648ce3d040302')), tlv(0x03, Buffer.concat([Buffer.from([0]), sig]))]));
  const res = await signCsr({ dir: pki.caDir, csr: csrDer, profile: 'client' });
  t.ok(certSubjectDer(der(res.certPem)).equals(subject), 'subject DER identical');
  writeFileSync(join(dir, 'hostile.crt'), res.certPem);
  t.equal(openssl(['verify', '-CAfile', pki.caCert, join(dir, 'hostile.crt')]).code, 0, 'signature over the spliced TBS verifies');
  t.match(openssl(['x509', '-in', join(dir, 'hostile.crt'), '-noout', '-subject', '-nameopt', 'RFC2253']).out, /1\.2\.3\.4=#0C03C3A600/);
});

t.test('a CSR whose signature fails is refused and nothing is written', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const csr = join(dir, 'req.csr');
  t.equal(openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'req.key'), '-out', csr, '-outform', 'DER', '-subj', '/CN=mallory']).code, 0);
  const bytes = readFileSync(csr);
  bytes[bytes.length - 2]! ^= 0x01; // inside the ECDSA signature value
  const before = readFileSync(join(pki.caDir, 'index.json'), 'utf8');
  await t.rejects(signCsr({ dir: pki.caDir, csr: bytes, profile: 'client', outPath: join(dir, 'out.crt') }), { code: 'ZTP_CA_CSR_INVALID' });
  await t.rejects(signCsr({ dir: pki.caDir, csr: 'not a csr', profile: 'client' }), { code: 'ZTP_CA_CSR_INVALID' });
  t.notOk(existsSync(join(dir, 'out.crt')));
  t.equal(readFileSync(join(pki.caDir, 'index.json'), 'utf8'), before);
});
