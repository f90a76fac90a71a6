// Router and header rewriting, the hot-path functions, as units.
import t from 'tap';
import { resolveConfig } from '../../src/config/index.js';
import { downstreamResponseHeaders, isIdentityHeader, upstreamRequestHeaders } from '../../src/proxy/headers.js';
import { hostOf, Router, underPrefix } from '../../src/proxy/router.js';

t.test('router', async (t) => {
  const c = resolveConfig({
    tls: { cert: '/c', key: '/k', clientCA: '/ca' },
    routes: [
      { name: 'a', host: 'A.internal', pathPrefix: '/api', upstream: 'http://127.0.0.1:1' },
      { name: 'b', host: 'b.internal', upstream: 'http://127.0.0.1:2' },
      { name: 'any', pathPrefix: '/pub/', upstream: 'http://127.0.0.1:3' },
    ],
  });
  const r = new Router(c);
  const name = (host: string, path: string, sni = '') => {
    const m = r.match(host, path, sni);
    return m.kind === 'route' ? m.route.name : m.kind;
  };
  t.equal(name('a.internal', '/api'), 'a', 'host compared in lower case');
  t.equal(name('a.internal', '/api/x'), 'a');
  t.equal(name('a.internal', '/apix'), 'none', 'segment boundary');
  t.equal(name('b.internal', '/anything'), 'b');
  t.equal(name('c.internal', '/pub/x'), 'any');
  t.equal(name('c.internal', '/pub'), 'none', 'a prefix ending in / needs it');
  t.equal(name('b.internal', '/x', 'a.internal'), 'misdirected');
  t.equal(name('b.internal', '/x', 'unconfigured.example'), 'b', 'an SNI that names no configured host is not a vhost');
  t.equal(hostOf('Example.COM:8443'), 'example.com');
  t.equal(hostOf('[::1]:443'), '[::1]');
  t.equal(hostOf('example.com.'), 'example.com');
  t.equal(hostOf(undefined), '');
  t.ok(underPrefix('/api?x', '/api'));
  // ASCII letters without case (Express routes /API from its /api mount); nothing else folds.
  for (const p of ['/API', '/Api/x', '/aPi?x']) t.ok(underPrefix(p, '/api'), `${p} under /api`);
  t.ok(underPrefix('/admin/x', '/ADMIN/'));
  for (const [p, prefix] of [['/apix', '/api'], ['/APIX', '/api'], ['/ap', '/api'], ['/a@i', '/a`i'], ['/a[i', '/a{i'], ['/\u00c1pi', '/\u00e1pi'], ['/\u212api', '/kpi']]) t.notOk(underPrefix(p!, prefix!), `${p} not under ${prefix}`);
  t.equal(name('a.internal', '/API/x'), 'a', 'path prefix without case');
});

t.test('identity header names', async (t) => {
  const configured = new Set(['x-dn']);
  for (const n of ['x-dn', 'x_dn', 'x-client-subject-dn', 'x_client_subject_dn', 'x-ssl-client-s-dn', 'x-forwarded-client-cert', 'client-cert', 'client-cert-chain', 'ssl-client-cert']) {
    t.ok(isIdentityHeader(n, configured), n);
  }
  for (const n of ['x-request-id', 'authorization', 'x-clientele', 'client-certificates']) t.notOk(isIdentityHeader(n, configured), n);
});

t.test('request and response headers', async (t) => {
  const out = upstreamRequestHeaders(
    ['Host', 'h', 'Connection', 'X-Drop, keep-alive', 'X-Drop', '1', 'Keep-Alive', '5', 'Accept', '*/*', 'X-Client-Subject-DN', 'evil', 'X-Forwarded-For', '1.1.1.1', 'X-Forwarded-For', '2.2.2.2', 'Expect', '100-continue', 'Upgrade', 'h2c'],
    { host: 'h', requestId: 'rid', remoteAddress: '10.0.0.9', identity: ['x-client-subject-dn', 'CN=a'] },
    new Set(['x-client-subject-dn']),
  );
  t.same(out, ['Accept', '*/*', 'host', 'h', 'x-forwarded-for', '10.0.0.9', 'x-real-ip', '10.0.0.9', 'x-forwarded-proto', 'https', 'x-forwarded-host', 'h', 'x-request-id', 'rid', 'x-client-subject-dn', 'CN=a']);
  const res = downstreamResponseHeaders(['Content-Type', 'text/plain', 'Connection', 'X-Internal', 'X-Internal', 'secret', 'Transfer-Encoding', 'chunked', 'X-Request-Id', 'upstream-id'].map((s) => Buffer.from(s)), 'rid');
  t.same(res, ['Content-Type', 'text/plain', 'x-request-id', 'rid']);
});

t.test('every header a Connection field names is dropped, wherever it stands and however many Connection fields', async (t) => {
  const out = upstreamRequestHeaders(
    ['X-A', '1', 'Cookie', 'c=1', 'Connection', 'x-a', 'Accept', '*/*', 'X-B', '2', 'connection', 'X-B , cookie', 'X-C', '3'],
    { host: 'h', requestId: 'rid', remoteAddress: '10.0.0.9', identity: [] },
    new Set(),
  );
  t.same(out, ['Accept', '*/*', 'X-C', '3', 'host', 'h', 'x-forwarded-for', '10.0.0.9', 'x-real-ip', '10.0.0.9', 'x-forwarded-proto', 'https', 'x-forwarded-host', 'h', 'x-request-id', 'rid']);
});

t.test("forwarding headers are the proxy's own: every client copy, any case, `_` for `-`, is dropped", async (t) => {
  const spoof = ['Forwarded', 'for=1.1.1.1;host=admin.internal;proto=http', 'X-Forwarded-For', '1.1.1.1', 'x-forwarded-for', '2.2.2.2', 'X-Forwarded-Proto', 'http', 'X-Forwarded-Host', 'admin.internal', 'X-Forwarded-Port', '80', 'X-Real-IP', '1.1.1.1', 'X_Real_IP', '1.1.1.1', 'X_Forwarded_For', '1.1.1.1', 'FORWARDED', 'for=2.2.2.2', 'X-Keep', 'k'];
  const out = upstreamRequestHeaders(spoof, { host: 'api.internal', requestId: 'rid', remoteAddress: '10.0.0.9', identity: [] }, new Set());
  t.same(out, ['X-Keep', 'k', 'host', 'api.internal', 'x-forwarded-for', '10.0.0.9', 'x-real-ip', '10.0.0.9', 'x-forwarded-proto', 'https', 'x-forwarded-host', 'api.internal', 'x-request-id', 'rid']);
});
