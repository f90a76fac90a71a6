/**
 * identityFromDer and the DER reader, against openssl: serial like
 * i2a_ASN1_INTEGER ($ssl_client_serial), fingerprints like
 * X509_digest ($ssl_client_fingerprint), issuer, notAfter, SANs and the
 * subject values policies match on. Certificates are written by hand so
 * serials and SANs can be anything a foreign CA might sign (openssl prints
 * these fields without checking the signature).
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tlv } from '../../src/ca/der.js';
import { attributeValue, certificateParts, children, decodeOid, readTlv } from '../../src/tls/der.js';
import { identityFromDer } from '../../src/tls/identity.js';
import { xfccValue, buildIdentityHeaders } from '../../src/proxy/identity-headers.js';
import { nameDer } from './dn-cases.js';
import { parseXfcc } from './xfcc.js';
import { skipUnlessInstalled } from '../helpers/tools.js';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
const h = (hex: string): Buffer => Buffer.from(hex.replace(/\s+/g, ''), 'hex');
const ECDSA_SHA256 = h('300a06082a8648ce3d040302');
const spki = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });

interface CertSpec {
  serial: string;
  subject?: Buffer;
  /** GeneralName TLVs, hex. */
  san?: string[];
  notAfter?: string;
}

/** A v3 certificate with an arbitrary serial (INTEGER content hex) and SANs; the signature is junk. */
function cert(spec: CertSpec): Buffer {
  const issuer = nameDer([[{ type: 'O', value: 'Foreign CA, Ltd.' }], [{ type: 'CN', value: 'Issuer Ø' }]]);
  const validity = tlv(0x30, Buffer.concat([tlv(0x17, Buffer.from('250101000000Z')), tlv(0x18, Buffer.from(spec.notAfter ?? '20991231235959Z'))]));
  const exts: Buffer[] = [];
  if (spec.san) exts.push(tlv(0x30, Buffer.concat([h('0603551d11'), tlv(0x04, tlv(0x30, Buffer.concat(spec.san.map(h))))])));
  const tbs = tlv(0x30, Buffer.concat([
    h('a003020102'),
    tlv(0x02, h(spec.serial)),
    ECDSA_SHA256,
    issuer,
    validity,
    spec.subject ?? nameDer([[{ type: 'CN', value: 'leaf' }]]),
    spki,
    ...(exts.length ? [tlv(0xa3, tlv(0x30, Buffer.concat(exts)))] : []),
  ]));
  return tlv(0x30, Buffer.concat([tbs, ECDSA_SHA256, tlv(0x03, h('00 3006020101020101'))]));
}

function openssl(dir: string, der: Buffer, ...args: string[]): string {
  const f = join(dir, 'c.der');
  writeFileSync(f, der);
  const r = spawnSync('openssl', ['x509', '-inform', 'DER', '-in', f, '-noout', ...args], { encoding: 'latin1' });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout.trim();
}

t.test('serial: upper-case hex of the magnitude, as openssl -serial (i2a_ASN1_INTEGER) prints it', { skip: skipUnlessInstalled(hasOpenssl, 'openssl') }, async (t) => {
  const dir = t.testdir();
  const serials = ['01', '00', '7f', '0080', '00ff00', '0a0b0c', '00' + 'ab'.repeat(19), '123456789abcdef0123456789abcdef012345678', 'ff', '8000', 'ff7f'];
  for (const s of serials) {
    const der = cert({ serial: s });
    t.equal(identityFromDer(der).serial, openssl(dir, der, '-serial').replace(/^serial=/, ''), `serial ${s}`);
  }
  t.equal(identityFromDer(cert({ serial: '0080' })).serial, '80', 'DER sign padding dropped');
  t.equal(identityFromDer(cert({ serial: '00' })).serial, '00', 'zero');
});

t.test('fingerprints, issuer and notAfter match openssl', { skip: skipUnlessInstalled(hasOpenssl, 'openssl') }, async (t) => {
  const dir = t.testdir();
  const der = cert({ serial: '1234', notAfter: '20991231235959Z' });
  const id = identityFromDer(der);
  const fp = (alg: string): string => openssl(dir, der, '-fingerprint', `-${alg}`).replace(/^.*Fingerprint=/, '').replace(/:/g, '').toLowerCase();
  t.equal(id.fingerprintSha1, fp('sha1'));
  t.equal(id.fingerprintSha256, fp('sha256'));
  t.match(id.fingerprintSha1, /^[0-9a-f]{40}$/);
  t.equal(id.issuerDN, openssl(dir, der, '-issuer', '-nameopt', 'RFC2253').replace(/^issuer=/, ''));
  t.equal(id.issuerDN, 'CN=Issuer \\C3\\98,O=Foreign CA\\, Ltd.');
  t.equal(id.notAfterMs, Date.parse(openssl(dir, der, '-enddate').replace(/^notAfter=/, '')));
  t.equal(identityFromDer(cert({ serial: '01', notAfter: '20991231235959Z' })).notAfterMs, Date.UTC(2099, 11, 31, 23, 59, 59));
});

t.test('SANs: DNS, URI, email, IPv4 and IPv6 in order; other GeneralNames ignored', async (t) => {
  const san = (tag: number, v: string | Buffer): string => tlv(tag, typeof v === 'string' ? Buffer.from(v) : v).toString('hex');
  const der = cert({
    serial: '01',
    san: [
      san(0x82, 'api.internal'),
      san(0x86, 'spiffe://example.internal/ns/prod/sa/api'),
      san(0x81, 'ops@example.internal'),
      san(0x87, h('0a000001')),
      san(0x87, h('20010db8000000000000000000000001')),
      san(0x87, h('00000000000000000000000000000001')),
      san(0x87, h('20010db8000000000001000000000000')),
      san(0x87, h('fe800000000000000000000000000000')),
      san(0x88, h('2a0304')), // registeredID
      san(0x82, 'b.internal'),
    ],
  });
  const id = identityFromDer(der);
  t.same(id.dns, ['api.internal', 'b.internal']);
  t.same(id.uri, ['spiffe://example.internal/ns/prod/sa/api']);
  t.same(id.email, ['ops@example.internal']);
  // IPv6 in RFC 5952 form, as Node's own URL parser canonicalises it.
  const canon = (a: string): string => new URL(`http://[${a}]/`).hostname.slice(1, -1);
  t.same(id.ip, ['10.0.0.1', canon('2001:db8::1'), canon('::1'), canon('2001:db8:0:0:1::'), canon('fe80::')]);
  t.same(identityFromDer(cert({ serial: '01' })).dns, [], 'no SAN extension');
});

t.test('subject values for policies: every string type decoded, BER constructed strings collected', async (t) => {
  const subject = nameDer([
    [{ type: 'O', tag: 't61', value: 'Bl\u00e5b\u00e6r' }],
    [{ type: 'OU', tag: 'bmp', value: '\u00c6\u00d8\u00c5 \u65e5\u672c' }],
    [{ type: 'OU', tag: 'universal', value: '\u00f8\u{1f510}\u00e5' }],
    [{ type: 'OU', raw: '2c0a0c03426ac30c03b8726e' }],
    [{ type: 'CN', value: 'Bj\u00f8rn' }, { type: 'CN', tag: 'printable', value: 'second' }],
  ]);
  const id = identityFromDer(cert({ serial: '01', subject }));
  t.same(id.o, ['Bl\u00e5b\u00e6r']);
  t.same(id.ou, ['\u00c6\u00d8\u00c5 \u65e5\u672c', '\u00f8\u{1f510}\u00e5', 'Bj\u00f8rn']);
  t.same(id.cn, ['Bj\u00f8rn', 'second']);
  t.equal(id.subjectDN, 'CN=second+CN=Bj\\C3\\B8rn,OU=Bj\\C3\\B8rn,OU=\\C3\\B8\\F0\\9F\\94\\90\\C3\\A5,OU=\\C3\\86\\C3\\98\\C3\\85 \\E6\\97\\A5\\E6\\9C\\AC,O=Bl\\C3\\A5b\\C3\\A6r');
});

t.test('DER reader: lengths, OIDs, and refusals', async (t) => {
  const long = tlv(0x04, Buffer.alloc(300));
  t.same(readTlv(long, 0), { tag: 4, start: 0, contentStart: 4, end: 304 });
  t.equal(decodeOid(h('06092a864886f70d010901'), readTlv(h('06092a864886f70d010901'), 0)), '1.2.840.113549.1.9.1');
  t.equal(decodeOid(h('0603883701'), readTlv(h('0603883701'), 0)), '2.999.1');
  t.same(children(h('3006020101020102'), readTlv(h('3006020101020102'), 0)).map((c) => c.contentStart), [4, 7]);
  t.throws(() => readTlv(h('30'), 0), /truncated/);
  t.throws(() => readTlv(h('1f2101ff'), 0), /high tag/);
  t.throws(() => readTlv(h('3080'), 0), /bad length/, 'indefinite length (BER) is refused');
  t.throws(() => readTlv(h('3005 0101'), 0), /past end/);
  t.throws(() => certificateParts(h('300b3009020101020101020101')), /not a certificate/);
  t.throws(() => identityFromDer(h('3003020101')));
  const deep = h('2c0e2c0c2c0a2c082c062c042c020c00'); // six nested constructed levels
  t.throws(() => attributeValue(deep, readTlv(deep, 0)), /nested too deep/);
  const five = h('2c0c2c0a2c082c062c042c020c00');
  t.same(attributeValue(five, readTlv(five, 0)), { tag: 0x0c, bytes: Buffer.alloc(0), collected: true });
  const ctx = h('2c038001ff');
  t.throws(() => attributeValue(ctx, readTlv(ctx, 0)), /not universal/);
  const seq = h('30020500');
  t.same(attributeValue(seq, readTlv(seq, 0)).collected, false, 'a SEQUENCE value is kept whole');
});

t.test('header safety: hostile subjects give printable ASCII values and one XFCC element whose Subject is the DN', async (t) => {
  const subject = nameDer([[{ type: 'O', value: 'x\r\nX-Client-Verify: SUCCESS\u0000' }], [{ type: 'CN', value: 'a";Hash=00;Subject="b,URI=x=y;DNS=evil\\' }]]);
  const id = identityFromDer(cert({ serial: '01', subject, san: [tlv(0x86, Buffer.from('spiffe://e/"x";DNS=y')).toString('hex'), tlv(0x82, Buffer.from('a.internal')).toString('hex')] }));
  const headers = buildIdentityHeaders(id, {
    names: { subjectDN: 'x-client-subject-dn', issuerDN: 'x-client-issuer-dn', verify: 'x-client-verify', serial: 'x-client-serial', fingerprint: 'x-client-fingerprint', cert: 'x-client-cert' },
    fingerprintAlgorithm: 'sha1',
    xfcc: true,
    rfc9440: true,
  });
  for (let i = 1; i < headers.length; i += 2) t.match(headers[i], /^[\x20-\x7e]*$/, `${headers[i - 1]} is printable ASCII`);
  const parsed = parseXfcc(xfccValue(id));
  t.same(parsed, [{ Hash: [id.fingerprintSha256], Subject: [id.subjectDN], URI: ['spiffe://e/"x";DNS=y'], DNS: ['a.internal'] }]);
  t.equal(id.subjectDN, 'CN=a\\"\\;Hash=00\\;Subject=\\"b\\,URI=x=y\\;DNS=evil\\\\,O=x\\0D\\0AX-Client-Verify: SUCCESS\\00');
});
