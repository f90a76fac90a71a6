// normalizePath: what the proxy matches is what it forwards. Unreserved %XX
// decoded, other escapes kept (hex upper-cased), `\` read as `/`, `//`
// collapsed, dot segments removed (also when spelled %2e), case kept;
// malformed paths are null (400).
import t from 'tap';
import { normalizePath } from '../../src/proxy/normalize-path.js';

t.test('attacks on a rule that protects /admin all land on /admin', async (t) => {
  for (const p of ['/admin', '/public/../admin', '/public/%2e%2e/admin', '/public/%2E%2E/admin', '/public/.%2e/admin', '/%61dmin', '/%61%64%6D%69%6E', '//admin', '///admin', '/public\\..\\admin', '/./admin', '/admin/.', '/../admin', '/../../admin', '/a/b/../../admin', '/public/%2e%2e%5cadmin'.replace('%5c', '/')]) {
    t.equal(normalizePath(p)?.replace(/\/$/, ''), '/admin', p);
  }
});

t.test('what stays as it is', async (t) => {
  const same = ['/', '/api/v1/users', '/ADMIN', '/Admin', '/a-b_c.d~e', '/a/b/', '/%2F', '/a%20b', '/%C3%A6', '/a;b=c', '/a:b@c', "/!$&'()*+,;="];
  for (const p of same) t.equal(normalizePath(p), p, p);
  t.equal(normalizePath('/%2f'), '/%2F', 'encoded slash stays encoded (not a segment separator), hex upper-cased');
  t.equal(normalizePath('/%5c'), '/%5C', 'encoded backslash stays encoded');
  t.equal(normalizePath('/a%2e'), '/a.', 'an unreserved dot inside a segment is decoded');
  t.equal(normalizePath('/a/..'), '/', '.. at the end leaves the directory');
  t.equal(normalizePath('/a/b/.'), '/a/b/', '. at the end keeps the trailing slash');
  t.equal(normalizePath('/a//b'), '/a/b');
  t.equal(normalizePath('/a/'), '/a/', 'a trailing slash is kept');
});

t.test('malformed paths are refused', async (t) => {
  for (const p of ['', 'admin', '\\admin', '*', 'http://x/', '/%', '/%2', '/%zz', '/%g0', '/a%']) t.equal(normalizePath(p), null, JSON.stringify(p));
});

t.test('idempotent: normalizing twice changes nothing', async (t) => {
  const chars = ['/', '.', '%2e', '%2E', '%41', '%2F', '\\', 'a', 'A', '..', '%25'];
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed % n);
  for (let i = 0; i < 2000; i++) {
    let p = '/';
    for (let k = rnd(10); k > 0; k--) p += chars[rnd(chars.length)];
    const once = normalizePath(p);
    if (once === null) continue;
    if (normalizePath(once) !== once) {
      t.fail(`not idempotent: ${p} -> ${once} -> ${normalizePath(once)}`);
      return;
    }
  }
  t.pass('2000 random paths');
});
