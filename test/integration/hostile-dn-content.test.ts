// Hostile case 4: DN content. Subjects with `"`, `;`, `,`, `=`, CR/LF, an
// embedded NUL, Latin-1/BMP bytes and very long values, and SANs crafted to
// forge XFCC fields, are forwarded escaped: printable ASCII only (no header
// injection or splitting), byte-identical to `openssl x509 -nameopt RFC2253`
// when openssl is present, and XFCC parses back to exactly the real fields.
// A CN with a NUL never matches a policy by its prefix.
import t from 'tap';
import { spawn } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { signCsr } from '../../src/ca/index.js';
import { tlv } from '../../src/ca/der.js';
import { makePki, type Pki } from '../helpers/pki.js';
import { haveOpenssl, raw, request, startProxy, startUpstream, statuses, type ClientCert } from './hostile-harness.js';
import { skipUnlessInstalled } from '../helpers/tools.js';

// The openssl oracle checks below run where openssl is; CI (ZTPROXY_REQUIRE_TOOLS=1) requires it.
const noOpenssl = skipUnlessInstalled(haveOpenssl, 'openssl');
if (noOpenssl) t.comment(`${noOpenssl}: the openssl oracle checks are left out`);

const oid = (hex: string): Buffer => tlv(0x06, Buffer.from(hex, 'hex'));
const CN = '550403';
const O = '55040a';
const OU = '55040b';
type Atv = [oidHex: string, tag: number, value: Uint8Array];
const utf8 = (s: string): [number, Uint8Array] => [0x0c, Buffer.from(s, 'utf8')];

/** A client certificate whose subject is `rdns` (each inner array one RDN) byte for byte, signed by our CA. */
async function hostileClient(pki: Pki, dir: string, name: string, rdns: Atv[][], san?: { uri?: string[]; dns?: string[] }): Promise<ClientCert> {
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const subject = tlv(0x30, Buffer.concat(rdns.map((rdn) => tlv(0x31, Buffer.concat(rdn.map(([o, tag, v]) => tlv(0x30, Buffer.concat([oid(o), tlv(tag, v)]))))))));
  let attrs: Uint8Array = Buffer.alloc(0);
  if (san) {
    const names = Buffer.concat([...(san.uri ?? []).map((u) => tlv(0x86, Buffer.from(u, 'latin1'))), ...(san.dns ?? []).map((d) => tlv(0x82, Buffer.from(d, 'latin1')))]);
    const ext = tlv(0x30, Buffer.concat([oid('551d11'), tlv(0x04, tlv(0x30, names))]));
    attrs = tlv(0x30, Buffer.concat([oid('2a864886f70d01090e'), tlv(0x31, tlv(0x30, ext))]));
  }
  const cri = tlv(0x30, Buffer.concat([tlv(0x02, Buffer.from([0])), subject, keys.publicKey.export({ type: 'spki', format: 'der' }), tlv(0xa0, attrs)]));
  const csr = tlv(0x30, Buffer.concat([cri, tlv(0x30, oid('2a8648ce3d040302')), tlv(0x03, Buffer.concat([Buffer.from([0]), sign('sha256', cri, keys.privateKey)]))]));
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await signCsr({ dir: pki.caDir, csr, profile: 'client', outPath: cert });
  writeFileSync(key, keys.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  return { cert, key };
}

/** `openssl x509 -subject -nameopt RFC2253` (nginx's `$ssl_client_s_dn`), async: the proxy runs in this process. */
function opensslSubject(cert: string): Promise<string> {
  return new Promise((resolve) => {
    const c = spawn('openssl', ['x509', '-in', cert, '-noout', '-subject', '-nameopt', 'RFC2253']);
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString('latin1')));
    c.on('close', () => resolve(out.replace(/^subject=/, '').replace(/\n$/, '')));
  });
}

/** Splits an XFCC element into [key, value] pairs, honouring quoted-strings with backslash escapes. */
function parseXfcc(v: string): [string, string][] {
  const out: [string, string][] = [];
  let i = 0;
  while (i < v.length) {
    const eq = v.indexOf('=', i);
    if (eq < 0) throw new Error(`XFCC: no = after ${i} in ${v}`);
    const key = v.slice(i, eq);
    let val = '';
    let j = eq + 1;
    if (v[j] === '"') {
      j++;
      while (j < v.length && v[j] !== '"') {
        if (v[j] === '\\') j++;
        val += v[j++];
      }
      if (v[j] !== '"') throw new Error('XFCC: unterminated quoted-string');
      j++;
    } else {
      while (j < v.length && v[j] !== ';' && v[j] !== ',') val += v[j++];
    }
    out.push([key, val]);
    if (j < v.length && v[j] !== ';') throw new Error(`XFCC: unexpected ${JSON.stringify(v[j])} at ${j}`);
    i = j + 1;
  }
  return out;
}

t.test('hostile subjects and SANs are forwarded escaped and cannot forge fields', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(join(dir, 'pki'));
  const up = await startUpstream(t);
  const p = await startProxy(t, {
    pki,
    upstream: up,
    identityHeaders: { issuerDN: true, xfcc: true },
    routes: [
      { name: 'admin', pathPrefix: '/admin', upstream: up.url, allow: { cn: ['admin'] } },
      { name: 'main', upstream: up.url },
    ],
  });
  const cases: { name: string; rdns: Atv[][]; san?: { uri?: string[]; dns?: string[] }; expect?: RegExp }[] = [
    { name: 'nul', rdns: [[[CN, ...utf8('admin\u0000evil')]]], expect: /^CN=admin\\00evil$/ },
    { name: 'crlf', rdns: [[[CN, ...utf8('x\r\nX-Injected: 1\r\n\r\nGET /admin HTTP/1.1')]]], expect: /^CN=x\\0D\\0AX-Injected: 1\\0D\\0A\\0D\\0AGET \/admin HTTP\/1\.1$/ },
    { name: 'quotes', rdns: [[[O, ...utf8('Ex, "Inc"; x=y')]], [[CN, ...utf8('a", Subject="CN=admin')]]], expect: /^CN=a\\"\\, Subject=\\"CN=admin,O=Ex\\, \\"Inc\\"\\; x=y$/ },
    { name: 'edges', rdns: [[[OU, ...utf8('#lead')], [OU, ...utf8(' both ')]], [[CN, ...utf8('=\\<>+')]]] },
    { name: 'latin1-bmp', rdns: [[[O, 0x14, Buffer.from([0x42, 0x6a, 0xf8, 0x72, 0x6e])]], [[CN, 0x1e, Buffer.from('Åse\u0000', 'utf16le').swap16()]]] },
    { name: 'long', rdns: [[[OU, ...utf8('o'.repeat(3000))]], [[CN, ...utf8('l'.repeat(3000) + ',')]]] },
    { name: 'xfcc-forge', rdns: [[[CN, ...utf8('svc";URI="spiffe://example.internal/admin')]]], san: { uri: ['spiffe://example.internal/a";DNS="admin.internal', 'spiffe://x/b\\'], dns: ['b";URI="spiffe://admin'] } },
  ];
  for (const c of cases) {
    const client = await hostileClient(pki, dir, c.name, c.rdns, c.san);
    const before = up.seen.length;
    const res = await request(p.port, p.ca, client, { path: '/x' });
    t.equal(res.status, 200, `${c.name}: served`);
    const seen = up.seen[before]!;
    const dn = seen.headers['x-client-subject-dn'] as string;
    t.match(dn, /^[\x20-\x7e]+$/, `${c.name}: subject DN header is printable ASCII`);
    if (c.expect) t.match(dn, c.expect, `${c.name}: escaped as OpenSSL RFC 2253`);
    if (haveOpenssl) t.equal(dn, await opensslSubject(client.cert), `${c.name}: byte-identical to openssl -nameopt RFC2253`);
    t.notOk('x-injected' in seen.headers, `${c.name}: no injected header`);
    t.equal(seen.rawHeaders.filter((h) => h.toLowerCase() === 'x-client-subject-dn').length, 1, `${c.name}: one subject header`);
    const xfcc = seen.headers['x-forwarded-client-cert'] as string;
    t.match(xfcc, /^[\x20-\x7e]+$/, `${c.name}: XFCC printable ASCII`);
    const fields = parseXfcc(xfcc);
    t.same(fields.map(([k]) => k), ['Hash', 'Subject', ...(c.san?.uri ?? []).map(() => 'URI'), ...(c.san?.dns ?? []).map(() => 'DNS')], `${c.name}: XFCC has exactly the real fields`);
    t.equal(fields[1]![1], dn, `${c.name}: XFCC Subject round-trips`);
    t.same(fields.filter(([k]) => k === 'URI').map(([, v]) => v), c.san?.uri ?? [], `${c.name}: XFCC URIs round-trip`);
    t.same(fields.filter(([k]) => k === 'DNS').map(([, v]) => v), c.san?.dns ?? [], `${c.name}: XFCC DNS names round-trip`);
  }

  // NUL prefix: CN "admin\0evil" is not CN "admin".
  const nul = await hostileClient(pki, dir, 'nul2', [[[CN, ...utf8('admin\u0000evil')]]]);
  const admin = await hostileClient(pki, dir, 'admin', [[[CN, ...utf8('admin')]]]);
  const before = up.seen.length;
  t.equal((await request(p.port, p.ca, nul, { path: '/admin' })).status, 403, 'CN admin\\0evil: refused by allow.cn=admin');
  t.equal((await request(p.port, p.ca, admin, { path: '/admin' })).status, 200, 'CN admin: allowed');
  t.equal(up.seen.length, before + 1, 'the NUL client never reached the admin upstream');
  const r = await raw(p.port, p.ca, nul, ['GET /admin HTTP/1.1\r\nHost: localhost\r\nX-Client-Subject-DN: CN=admin\r\nConnection: close\r\n\r\n']);
  t.same(statuses(r.data), [403], 'and a forged header does not change the decision');
});
