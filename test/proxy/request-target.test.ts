// canonicalTarget: the one path routing and policy decide on (`match`) and
// the one that is forwarded (`forward`), or a 400. Every spelling that a
// mainstream upstream would route as /admin either matches /admin (or a
// path under it) or is refused; nothing that reaches /admin upstream is
// matched as another path.
import t from 'tap';
import { canonicalTarget, type EscapedSlashes } from '../../src/proxy/request-target.js';

const ok = (target: string, mode: EscapedSlashes = 'reject') => {
  const c = canonicalTarget(target, mode);
  return c.ok ? { forward: c.forward, match: c.match } : null;
};
const refused = (target: string, mode: EscapedSlashes = 'reject') => {
  const c = canonicalTarget(target, mode);
  return c.ok ? null : c.reason;
};

t.test('a fragment (#) anywhere is refused', async (t) => {
  for (const p of ['/admin#', '/admin#/users', '/#', '/a?b#c', '/a?#', '/%23ok#x']) t.ok(refused(p), p);
  t.same(ok('/a%23b'), { forward: '/a%23b', match: '/a%23b' }, 'an encoded # is data, not a fragment');
});

t.test('escapedSlashes: reject (the default) refuses %2F %2f %5C %5c', async (t) => {
  for (const p of ['/admin%2Fusers', '/admin%2fusers/delete', '/admin%2F', '/admin%5Cusers', '/admin%5c', '/x/%2F', '/a?x=1'.replace('?', '%2F?')]) t.match(refused(p), /encoded slash/, p);
  t.same(ok('/a?x=%2F'), { forward: '/a?x=%2F', match: '/a' }, 'in the query an encoded slash is data');
  t.same(ok('/admin%252Fusers'), { forward: '/admin%252Fusers', match: '/admin%252Fusers' }, 'double-encoded: one decode gives a literal %2F, not a separator');
});

t.test('escapedSlashes: decode matches on the decoded path and forwards them encoded', async (t) => {
  t.same(ok('/admin%2Fusers', 'decode'), { forward: '/admin%2Fusers', match: '/admin/users' });
  t.same(ok('/admin%2fusers/delete', 'decode'), { forward: '/admin%2Fusers/delete', match: '/admin/users/delete' });
  t.same(ok('/admin%5Cx', 'decode'), { forward: '/admin%5Cx', match: '/admin/x' }, '%5C is a separator like a raw \\');
  t.same(ok('/admin%2F', 'decode'), { forward: '/admin%2F', match: '/admin/' });
  t.same(ok('/a%2F%2Fb', 'decode'), { forward: '/a%2F%2Fb', match: '/a/b' }, 'empty pieces collapse like //');
  t.same(ok('/pub/../api/v1/repos/o%2Fr', 'decode'), { forward: '/api/v1/repos/o%2Fr', match: '/api/v1/repos/o/r' }, 'dot-segments resolved in the forwarded form');
  for (const p of ['/public/..%2Fadmin', '/public%2F..%2Fadmin', '/admin%2F..%2Fpublic', '/x%2F.%2Fadmin', '/public/%2e%2e%2fadmin', '/a%5C..']) t.match(refused(p, 'decode'), /dot-segment behind an encoded slash/, p);
  t.match(refused('/admin;x%2Fy', 'decode'), /encoded slash and ;parameters/);
});

t.test(';parameters: matched without them, forwarded with them', async (t) => {
  t.same(ok('/admin;x'), { forward: '/admin;x', match: '/admin' });
  t.same(ok('/admin;jsessionid=1/users;v=2'), { forward: '/admin;jsessionid=1/users;v=2', match: '/admin/users' });
  t.same(ok('/;x/admin'), { forward: '/;x/admin', match: '/admin' }, 'a segment of parameters only is empty');
  t.same(ok('/admin/;x'), { forward: '/admin/;x', match: '/admin/' });
  t.same(ok('/a;x/../admin'), { forward: '/admin', match: '/admin' }, 'dot-segments resolved before parameters are dropped');
  t.same(ok('/admin%3Bx'), { forward: '/admin%3Bx', match: '/admin%3Bx' }, 'an encoded ; is data');
  for (const p of ['/public/..;/admin', '/public/..;x/admin', '/.;/admin', '/.;x', '/public/%2e%2e;/admin', '/public/.%2E;a=b/admin', '/..;']) t.match(refused(p), /dot-segment with ;parameters/, p);
});

t.test('bytes and escapes no upstream should have to interpret', async (t) => {
  for (const p of ['/a%00', '/a%00b', '/%0a', '/%0D%0A', '/%1f', '/%7F', '/%7f']) t.match(refused(p), /encoded control/, p);
  for (const p of ['/%c0%af', '/%C0%AE%C0%AE/admin', '/%c1%9c', '/%e0%80%af', '/%f0%80%80%af']) t.match(refused(p), /overlong/, p);
  t.same(ok('/%C3%A6%E2%82%AC'), { forward: '/%C3%A6%E2%82%AC', match: '/%C3%A6%E2%82%AC' }, 'well-formed UTF-8 escapes are kept');
  for (const p of ['/a b', '/a\tb', '/a\u0000', '/a\u007f', '/\u00e6', '/a\r\nX: y', '/a?b c', '/a?\u0001']) t.ok(refused(p), JSON.stringify(p));
  for (const p of ['', '*', 'admin', '\\admin', '/%', '/%2', '/%zz', '/a%g0']) t.ok(refused(p), JSON.stringify(p));
});

t.test("today's normalization stays", async (t) => {
  for (const p of ['/public/../admin', '/public/%2e%2e/admin', '/%61dmin', '//admin', '/public\\..\\admin', '/./admin', '/../admin']) {
    t.same(ok(p), { forward: '/admin', match: '/admin' }, p);
  }
  t.same(ok('/x/../admin?q=1'), { forward: '/admin?q=1', match: '/admin' });
  t.same(ok('/'), { forward: '/', match: '/' });
  t.same(ok('/ADMIN'), { forward: '/ADMIN', match: '/ADMIN' }, 'case is kept');
});

t.test('property: the match path is what a decoding, parameter-dropping upstream sees in the forwarded path', async (t) => {
  // An upstream that drops ;params per segment, decodes %2F/%5C as separators (decode mode) and collapses `//`
  // must arrive at `match` from `forward`: ztproxy decides on the path the upstream routes on.
  const chars = ['/', '.', '..', '%2e', '%2F', '%5C', ';', ';x', 'a', 'admin', '\\', '%25', '%41', '?', '#'];
  let seed = 13;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed % n);
  let checked = 0;
  for (let i = 0; i < 5000; i++) {
    let p = '/';
    for (let k = rnd(9); k > 0; k--) p += chars[rnd(chars.length)];
    for (const mode of ['reject', 'decode'] as const) {
      const c = canonicalTarget(p, mode);
      if (!c.ok) continue;
      checked++;
      const path = c.forward.split('?')[0]!;
      const seen = path
        .split('/')
        .map((s) => s.split(';')[0]!)
        .join('/')
        .replace(/%2F|%5C/g, mode === 'decode' ? '/' : '$&')
        .replace(/\/{2,}/g, '/');
      const segs = seen.split('/');
      if (segs.some((s) => s === '.' || s === '..') || seen !== c.match) {
        t.fail(`${mode} ${p}: forward ${c.forward}, match ${c.match}, upstream would see ${seen}`);
        return;
      }
      const again = canonicalTarget(c.forward, mode);
      if (!again.ok || again.forward !== c.forward || again.match !== c.match) {
        t.fail(`${mode} ${p}: not idempotent`);
        return;
      }
    }
  }
  t.ok(checked > 1000, `${checked} accepted targets checked`);
});
