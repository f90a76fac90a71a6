// IdentityPolicy: exact values, `*` within one DNS label or path segment,
// deny wins, every field (cn ou o dns uri email issuer serial), whole-value
// comparison (a NUL or a comma never matches by prefix). Every allow case has
// its reject case.
import t from 'tap';
import { IdentityPolicy } from '../../src/authz/index.js';
import type { PeerIdentity } from '../../src/tls/identity.js';

function id(p: Partial<PeerIdentity>): PeerIdentity {
  return { subjectDN: '', issuerDN: 'CN=ztproxy Test CA', serial: '0A1B', fingerprintSha1: '', fingerprintSha256: '', cn: [], ou: [], o: [], dns: [], uri: [], email: [], ip: [], notAfterMs: 0, der: Buffer.alloc(0), chainDer: [], ...p };
}

t.test('no policy accepts any verified client; deny-only accepts the rest', async (t) => {
  t.same(new IdentityPolicy(undefined, undefined).evaluate(id({ cn: ['x'] })), { allowed: true, rule: 'no policy' });
  const p = new IdentityPolicy(undefined, { cn: ['mallory'] });
  t.same(p.evaluate(id({ cn: ['alice'] })), { allowed: true, rule: 'no deny rule matched' });
  t.same(p.evaluate(id({ cn: ['mallory'] })), { allowed: false, rule: 'deny.cn=mallory' });
});

t.test('each field, exact values', async (t) => {
  const cases: [string, string, Partial<PeerIdentity>, Partial<PeerIdentity>][] = [
    ['cn', 'alice', { cn: ['alice'] }, { cn: ['alicia'] }],
    ['ou', 'dev', { ou: ['ops', 'dev'] }, { ou: ['devops'] }],
    ['o', 'Example, Inc', { o: ['Example, Inc'] }, { o: ['Example'] }],
    ['dns', 'api.internal', { dns: ['api.internal'] }, { dns: ['api.internal.evil'] }],
    ['uri', 'spiffe://example.org/ns/prod/sa/api', { uri: ['spiffe://example.org/ns/prod/sa/api'] }, { uri: ['spiffe://example.org/ns/prod/sa/api/x'] }],
    ['email', 'a@b.internal', { email: ['a@b.internal'] }, { email: ['A@b.internal'] }],
    ['issuer', 'CN=Other CA', { issuerDN: 'CN=Other CA' }, { issuerDN: 'CN=Other CA,O=x' }],
  ];
  for (const [field, value, yes, no] of cases) {
    const p = new IdentityPolicy({ [field]: [value] }, undefined);
    t.same(p.evaluate(id(yes)), { allowed: true, rule: `allow.${field}=${value}` }, `${field}: match allowed`);
    t.same(p.evaluate(id(no)), { allowed: false, rule: 'allow (no value matched)' }, `${field}: near miss refused`);
  }
});

t.test('serial: hex, any case, colons and leading zeros ignored', async (t) => {
  for (const s of ['0a1b', '0A:1B', '000A1B', 'a1b']) t.ok(new IdentityPolicy({ serial: [s] }, undefined).evaluate(id({ serial: '0A1B' })).allowed, `serial ${s}`);
  t.notOk(new IdentityPolicy({ serial: ['0A1C'] }, undefined).evaluate(id({ serial: '0A1B' })).allowed);
  t.notOk(new IdentityPolicy({ serial: ['0A1'] }, undefined).evaluate(id({ serial: '0A1B' })).allowed, 'no prefix match');
});

t.test('globs stay inside one DNS label or path segment', async (t) => {
  const dns = new IdentityPolicy({ dns: ['*.svc.internal'] }, undefined);
  t.ok(dns.evaluate(id({ dns: ['api.svc.internal'] })).allowed);
  t.notOk(dns.evaluate(id({ dns: ['a.b.svc.internal'] })).allowed, '* does not cross a dot');
  t.notOk(dns.evaluate(id({ dns: ['svc.internal'] })).allowed);
  t.notOk(dns.evaluate(id({ dns: ['api.svc.internal.evil'] })).allowed, 'anchored at the end');
  const uri = new IdentityPolicy({ uri: ['spiffe://example.org/ns/*/sa/api'] }, undefined);
  t.ok(uri.evaluate(id({ uri: ['spiffe://example.org/ns/prod/sa/api'] })).allowed);
  t.notOk(uri.evaluate(id({ uri: ['spiffe://example.org/ns/prod/x/sa/api'] })).allowed, '* does not cross a slash');
  t.notOk(uri.evaluate(id({ uri: ['spiffe://example.org/ns/prod/sa/api2'] })).allowed);
  const cn = new IdentityPolicy({ cn: ['svc-*'] }, undefined);
  t.ok(cn.evaluate(id({ cn: ['svc-a'] })).allowed);
  t.notOk(cn.evaluate(id({ cn: ['xsvc-a'] })).allowed, 'anchored at the start');
  const regexChars = new IdentityPolicy({ cn: ['a.b+(c)*'] }, undefined);
  t.ok(regexChars.evaluate(id({ cn: ['a.b+(c)x'] })).allowed, 'regex metacharacters are literal');
  t.notOk(regexChars.evaluate(id({ cn: ['aXb+(c)x'] })).allowed);
});

t.test('deny wins over allow', async (t) => {
  const p = new IdentityPolicy({ ou: ['dev'] }, { cn: ['mallory'], uri: ['spiffe://example.org/ns/*/sa/legacy'] });
  t.same(p.evaluate(id({ cn: ['alice'], ou: ['dev'] })), { allowed: true, rule: 'allow.ou=dev' });
  t.same(p.evaluate(id({ cn: ['mallory'], ou: ['dev'] })), { allowed: false, rule: 'deny.cn=mallory' });
  t.same(p.evaluate(id({ cn: ['bob'], ou: ['dev'], uri: ['spiffe://example.org/ns/prod/sa/legacy'] })), { allowed: false, rule: 'deny.uri=spiffe://example.org/ns/*/sa/legacy' });
});

t.test('values compare whole: NUL, comma and newline never match by prefix', async (t) => {
  const p = new IdentityPolicy({ cn: ['admin'], ou: ['ops'] }, undefined);
  for (const v of ['admin\u0000evil', 'admin,OU=ops', 'admin\n', 'admin ', ' admin', 'ADMIN']) t.notOk(p.evaluate(id({ cn: [v] })).allowed, JSON.stringify(v));
  t.notOk(p.evaluate(id({ subjectDN: 'CN=admin', cn: [] })).allowed, 'the printed DN is not the CN');
  const glob = new IdentityPolicy({ dns: ['*.internal'] }, undefined);
  t.notOk(glob.evaluate(id({ dns: ['a\u0000.internal.evil'] })).allowed);
});
