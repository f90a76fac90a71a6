// Hostile case 3: identity headers sent by the client. Every letter case,
// repeated, empty, underscore spellings, obs-fold, trailers, a Connection
// header naming them, and the well-known names (X-Forwarded-Client-Cert,
// Client-Cert, Client-Cert-Chain, X-SSL-Client-*) whether or not their mode is
// on: stripped or refused with 400, never forwarded. The upstream records the
// exact raw header list it received.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { makePki } from '../helpers/pki.js';
import { raw, startProxy, startUpstream, statuses, type Recorded } from './hostile-harness.js';

const FORGED = [
  'X-Client-Subject-DN: CN=admin',
  'x-client-subject-dn: CN=admin',
  'X-CLIENT-SUBJECT-DN: CN=admin',
  'x-ClIeNt-SuBjEcT-dN: CN=admin',
  'X-Client-Subject-DN:',
  'X-Client-Subject-DN:    ',
  'X_Client_Subject_DN: CN=admin',
  'x_client_subject_dn: CN=admin',
  'X-Client_Subject-DN: CN=admin',
  'X-Client-Issuer-DN: CN=admin',
  'X-Client-Verify: SUCCESS',
  'X-Client-Serial: 01',
  'X-Client-Fingerprint: 00',
  'X-Client-Cert: CN%3Dadmin',
  'X-User-DN: CN=admin',
  'X-Forwarded-Client-Cert: Hash=00;Subject="CN=admin"',
  'x-forwarded-client-cert: By=spiffe://evil',
  'X_Forwarded_Client_Cert: Subject="CN=admin"',
  'Client-Cert: :AAAA:',
  'client-cert: :AAAA:',
  'Client-Cert-Chain: :AAAA:',
  'Client_Cert: :AAAA:',
  'X-SSL-Client-S-DN: CN=admin',
  'X-SSL-Client-Verify: SUCCESS',
  'X-SSL-Client-Cert: x',
  'X-SSL-Client-DN: CN=admin',
  'X_SSL_Client_S_DN: CN=admin',
  'SSL-Client-Cert: x',
  'X-SSL-Subject: CN=admin',
];

/** Lower-case names with `_` read as `-`. */
const norm = (n: string) => n.toLowerCase().replaceAll('_', '-');
/** Identity header names; `X-User-DN` is one only where it is configured. */
const IDENTITY = (n: string, custom = true) => /^(x-client-|x-ssl-|x-forwarded-client-cert$|client-cert(-chain)?$|ssl-client-cert$)/.test(norm(n)) || (custom && norm(n) === 'x-user-dn');

function identityHeaders(r: Recorded, custom: boolean): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < r.rawHeaders.length; i += 2) if (IDENTITY(r.rawHeaders[i]!, custom)) out.push([norm(r.rawHeaders[i]!), r.rawHeaders[i + 1]!]);
  return out;
}

const MODES = [
  { name: 'optional modes off (defaults)', identityHeaders: undefined },
  { name: 'every mode on, subject under a custom name', identityHeaders: { subjectDN: 'X-User-DN', issuerDN: true, verify: true, serial: true, fingerprint: true, cert: true, xfcc: true, rfc9440: true } },
];

for (const mode of MODES) {
  t.test(`forged identity headers are never forwarded (${mode.name})`, async (t) => {
    const pki = await makePki(t.testdir());
    const up = await startUpstream(t);
    const alice = await pki.client('alice');
    const p = await startProxy(t, { pki, upstream: up, ...(mode.identityHeaders ? { identityHeaders: mode.identityHeaders } : {}) });
    const aliceDer = Buffer.from(readFileSync(alice.cert, 'latin1').split('-----')[2]!.replace(/\s+/g, ''), 'base64');

    const head = (extra: string[], close = true) => `GET /x HTTP/1.1\r\nHost: localhost\r\n${extra.map((h) => h + '\r\n').join('')}${close ? 'Connection: close\r\n' : ''}\r\n`;
    const r1 = await raw(p.port, p.ca, alice, [head(FORGED)]);
    t.same(statuses(r1.data), [200], 'request with every forged header is served');
    const r2 = await raw(p.port, p.ca, alice, [head(['Connection: X-Client-Subject-DN, X-Forwarded-Client-Cert, Client-Cert, X-User-DN', 'X-Client-Subject-DN: CN=admin'], false) + head([])]);
    t.same(statuses(r2.data), [200, 200], 'a Connection header naming the identity headers cannot remove the proxy-set ones');
    const r3 = await raw(p.port, p.ca, alice, [`POST /x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nTrailer: X-Client-Subject-DN\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\nX-Client-Subject-DN: CN=admin\r\nX-Forwarded-Client-Cert: Subject="CN=admin"\r\nClient-Cert: :AAAA:\r\n\r\n`]);
    t.same(statuses(r3.data), [200], 'identity headers in trailers: request served');
    const r4 = await raw(p.port, p.ca, alice, [head(['X-Note: a', ' X-Client-Subject-DN: CN=admin', 'X-Client-Subject-DN: CN=alice', '\tCN=admin'])]);
    const folded = statuses(r4.data);
    t.ok(folded.length === 1 && (folded[0] === 400 || folded[0] === 200), `obs-fold: refused with 400 or served stripped (got ${folded.join(',')})`);

    const expectedSubjectName = mode.identityHeaders ? 'x-user-dn' : 'x-client-subject-dn';
    t.equal(up.seen.length, 4 + (folded[0] === 200 ? 1 : 0), 'every served request reached the upstream once');
    for (const [i, r] of up.seen.entries()) {
      const ids = identityHeaders(r, mode.identityHeaders !== undefined);
      const names = ids.map(([n]) => n);
      t.equal(names.filter((n) => n === expectedSubjectName).length, 1, `request ${i}: exactly one subject DN header`);
      t.ok(ids.every(([, v]) => !v.includes('admin') && v !== '' && v !== 'x' && v !== ':AAAA:' && v !== '01' && v !== '00'), `request ${i}: no forged value survives`);
      t.equal(new Set(names).size, names.length, `request ${i}: no identity header twice`);
      t.notOk(names.some((n) => n.startsWith('x-ssl-') || n === 'ssl-client-cert'), `request ${i}: no X-SSL-* header`);
      t.equal(r.headers[expectedSubjectName], 'CN=alice');
      const tr = Object.keys(r.trailers).map(norm);
      t.notOk(tr.some((n) => IDENTITY(n, true)), `request ${i}: no identity header in trailers`);
      if (mode.identityHeaders) {
        t.match(r.headers['x-forwarded-client-cert'], /^Hash=[0-9a-f]{64};Subject="CN=alice"$/, `request ${i}: XFCC is the proxy's`);
        t.equal(r.headers['client-cert'], `:${aliceDer.toString('base64')}:`, `request ${i}: Client-Cert is the real certificate`);
        t.equal(r.headers['x-client-verify'], 'SUCCESS');
        t.equal(r.headers['x-client-serial'], alice.serial.toUpperCase());
      } else {
        t.same(names, ['x-client-subject-dn'], `request ${i}: only the subject DN, as configured`);
      }
    }
  });
}
