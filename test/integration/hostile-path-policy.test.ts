// Identity policy end to end: a route protecting /admin cannot be reached by
// path tricks (`..`, %2e%2e, %61dmin, //, backslashes); the denied request gets
// 403 with a request id, never reaches the upstream, is counted in
// ztproxy_authz_denied_total and logged with the DN and the rule. The allowed
// client gets exactly the matched path forwarded. /ADMIN is held to the /admin
// rule too (Express routes it there), and forwarded with its case.
import t from 'tap';
import { makePki } from '../helpers/pki.js';
import { raw, sample, startProxy, startUpstream, statuses } from './hostile-harness.js';

const TRICKS = ['/admin', '/admin/', '/admin/x', '/public/../admin', '/public/%2e%2e/admin', '/public/%2E%2e/admin/x', '/%61dmin', '/%61%64%6d%69%6e/x', '//admin', '///admin/x', '/public\\..\\admin', '/public/..%2fadmin'.replace('%2f', '/'), '/./admin', '/x/../admin?q=1'];

t.test('path tricks never slip past the /admin rule', async (t) => {
  const pki = await makePki(t.testdir());
  const up = await startUpstream(t);
  const alice = await pki.client('alice', { ou: ['dev'] });
  const root = await pki.client('root', { ou: ['ops'] });
  const p = await startProxy(t, {
    pki,
    upstream: up,
    routes: [
      { name: 'admin', pathPrefix: '/admin', upstream: up.url, allow: { ou: ['ops'] }, deny: { cn: ['mallory'] } },
      { name: 'public', upstream: up.url },
    ],
  });
  const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`;
  const batch = TRICKS.map(get).join('') + 'GET /end HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n';

  const denied = await raw(p.port, p.ca, alice, [batch]);
  t.same(statuses(denied.data), [...TRICKS.map(() => 403), 200], 'alice (ou=dev): every spelling of /admin is 403');
  const ids = [...denied.data.matchAll(/x-request-id: ([^\r]+)/gi)].map((m) => m[1]);
  t.equal(ids.length, TRICKS.length + 1, 'every answer carries a request id');
  t.match(denied.data, /"requestId":"[0-9a-f-]{36}"/, 'the 403 body names the request id');
  t.same(up.seen.map((r) => r.url), ['/end'], 'no denied request reached the upstream');
  t.equal(await sample(p.registry, 'ztproxy_authz_denied_total', { route: 'admin' }), TRICKS.length, 'counted per route');
  const logged = p.logs.filter((l) => l.msg === 'request denied by identity policy');
  t.equal(logged.length, TRICKS.length, 'one log line per denial');
  t.same(logged[0] && { dn: logged[0].dn, rule: logged[0].rule, route: logged[0].route }, { dn: 'CN=alice,OU=dev', rule: 'allow (no value matched)', route: 'admin' }, 'logged with the DN and the rule');

  const allowed = await raw(p.port, p.ca, root, [batch]);
  t.same(statuses(allowed.data), [...TRICKS.map(() => 200), 200], 'root (ou=ops): allowed');
  // The upstream records in completion order (the pool uses several connections): compare sorted.
  const forwarded = up.seen.slice(1).map((r) => r.url).filter((u) => u !== '/end').sort();
  t.same(forwarded, ['/admin', '/admin/', '/admin/x', '/admin', '/admin', '/admin/x', '/admin', '/admin/x', '/admin', '/admin/x', '/admin', '/admin', '/admin', '/admin?q=1'].sort(), 'the upstream gets exactly the path that was matched');

  const seen = up.seen.length;
  const upper = await raw(p.port, p.ca, alice, ['GET /ADMIN HTTP/1.1\r\nHost: localhost\r\n\r\nGET /Admin/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n']);
  t.same(statuses(upper.data), [403, 403], 'alice: /ADMIN and /Admin/x fall under the /admin rule (prefixes match ASCII letters without case)');
  t.equal(up.seen.length, seen, 'neither reached the upstream');
  const rootUpper = await raw(p.port, p.ca, root, ['GET /ADMIN HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n']);
  t.same(statuses(rootUpper.data), [200], 'root: allowed');
  t.equal(up.seen.at(-1)?.url, '/ADMIN', 'forwarded as /ADMIN, its case kept');
  const bad = await raw(p.port, p.ca, alice, ['GET /admin%zz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n']);
  t.same(statuses(bad.data), [400], 'a malformed escape is 400, not a guess');
});
