/**
 * The DN golden driver: every test/golden/dn case is minted as a client
 * certificate by our CA, and the subject printed by formatName must equal
 * the `.out` file, which must equal what `openssl x509 -nameopt RFC2253`
 * prints for the same certificate (XN_FLAG_RFC2253, the flags nginx uses for
 * $ssl_client_s_dn). dn-differential.test.ts checks the same cases against a
 * running nginx.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { certificateParts } from '../../src/tls/der.js';
import { formatDN, formatName } from '../../src/tls/dn.js';
import { makePki } from '../helpers/pki.js';
import { loadCases, mintCases, UNPARSEABLE, type MintedCase } from './dn-cases.js';
import { skipUnlessInstalled } from '../helpers/tools.js';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
/** Without openssl the golden cases are checked against their .out only (off CI: ZTPROXY_REQUIRE_TOOLS=1 fails here instead). */
const noOpenssl = skipUnlessInstalled(hasOpenssl, 'openssl');

/** `openssl x509 -noout -<what> -nameopt RFC2253`, the `subject=` / `issuer=` prefix removed (OpenSSL 3 prints no space after `=`). */
function opensslName(certFile: string, what: 'subject' | 'issuer'): { code: number; name: string } {
  const r = spawnSync('openssl', ['x509', '-in', certFile, '-noout', `-${what}`, '-nameopt', 'RFC2253'], { encoding: 'latin1' });
  const out = r.stdout.replace(/\n$/, '');
  return { code: r.status ?? -1, name: out.startsWith(`${what}=`) ? out.slice(what.length + 1).replace(/^ /, '') : out };
}

const cases = loadCases();

t.test('golden DN cases: formatName = .out = openssl -nameopt RFC2253', async (t) => {
  t.ok(cases.length >= 15, `${cases.length} DN cases`);
  const dir = t.testdir();
  const pki = await makePki(dir);
  const minted: MintedCase[] = await mintCases(dir, pki.caDir, cases);
  for (const c of minted) {
    const parts = certificateParts(c.der);
    const ours = formatName(c.der, parts.subject);
    t.equal(ours, c.expected, `${c.name}: formatName`);
    t.match(ours, /^[\x20-\x7e]*$/, `${c.name}: printable ASCII`);
    t.equal(formatDN(c.der.subarray(parts.subject.start, parts.subject.end)), ours, `${c.name}: formatDN on the Name alone`);
    if (hasOpenssl) t.same(opensslName(c.certFile, 'subject'), { code: 0, name: c.expected }, `${c.name}: openssl`);
  }
  if (hasOpenssl) {
    const first = minted[0]!;
    const issuer = opensslName(first.certFile, 'issuer');
    t.equal(formatName(first.der, certificateParts(first.der).issuer), issuer.name, 'issuer DN');
  }
  t.comment(`${minted.length} DN cases ${noOpenssl ? `checked against .out only (${noOpenssl})` : 'checked against openssl'}`);
});

t.test('subjects OpenSSL cannot decode: openssl refuses to load the certificate (d2i_X509, the decoder nginx and ztproxy both run)', { skip: noOpenssl }, async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const minted = await mintCases(dir, pki.caDir, UNPARSEABLE);
  for (const c of minted) t.not(opensslName(c.certFile, 'subject').code, 0, `${c.name}: openssl cannot load it`);
});
