// Routing: first match by Host and path prefix, each route to its own
// upstream; SNI naming one configured host and Host another is 421.
import t from 'tap';
import { makePki } from '../helpers/pki.js';
import { baseConfig, metricValue, request, startProxy, startUpstream } from '../helpers/proxy.js';

t.test('routes by host and prefix; 421 when SNI and Host name different hosts', async (t) => {
  const pki = await makePki(t.testdir(), { serverDns: ['api.internal', 'billing.internal'] });
  const alice = await pki.client('alice');
  const api = await startUpstream(t);
  const billing = await startUpstream(t);
  const fallback = await startUpstream(t);
  const p = await startProxy(
    t,
    baseConfig(pki, fallback.url, {
      routes: [
        { name: 'billing', host: 'billing.internal', pathPrefix: '/billing', upstream: billing.url },
        { name: 'api', host: 'api.internal', upstream: { url: api.url } },
        { name: 'any', pathPrefix: '/public', upstream: fallback.url },
      ],
    }),
  );
  const via = (sni: string, host: string, path: string) => request(p.port, pki.caCert, alice, { servername: sni, headers: { host }, path });

  t.equal((await via('api.internal', 'api.internal', '/v1/things')).status, 200);
  t.equal(api.requests.at(-1)?.url, '/v1/things', 'api route');
  t.equal((await via('billing.internal', 'billing.internal', '/billing/invoices?id=7')).status, 200);
  t.equal(billing.requests.at(-1)?.url, '/billing/invoices?id=7', 'billing route keeps the query');
  t.equal((await via('billing.internal', 'billing.internal', '/billingx')).status, 404, 'prefix matches on a segment boundary');
  t.equal((await via('localhost', 'other.example', '/public/x')).status, 200, 'host-less route serves any host');
  t.equal(fallback.requests.length, 1);

  const misdirected = await via('api.internal', 'billing.internal', '/billing/invoices');
  t.equal(misdirected.status, 421, 'certificate accepted on api.internal cannot reach billing.internal');
  t.equal(billing.requests.length, 1, 'billing never saw the misdirected request');
  t.equal((await via('localhost', 'nowhere', '/x')).status, 404, 'no route: 404');
  t.equal(await metricValue(p.registry, 'ztproxy_http_requests_total', { route: 'api' }), 1);
  t.equal(await metricValue(p.registry, 'ztproxy_http_requests_total', { route: 'billing' }), 1);
});

t.test('identity policy: denied requests get 403 and never reach the upstream', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice', { ou: ['dev'] });
  const mallory = await pki.client('mallory', { ou: ['dev'] });
  const eve = await pki.client('eve', { ou: ['sales'] });
  const up = await startUpstream(t);
  const p = await startProxy(t, baseConfig(pki, up.url, { routes: [{ name: 'api', upstream: up.url, allow: { ou: ['dev', 'ops'] }, deny: { cn: ['mallory'] } }] }));
  t.equal((await request(p.port, pki.caCert, alice)).status, 200, 'allowed OU');
  const denied = await request(p.port, pki.caCert, mallory);
  t.equal(denied.status, 403, 'deny wins over allow');
  t.ok(JSON.parse(denied.body.toString()).requestId, '403 carries a request id');
  t.equal((await request(p.port, pki.caCert, eve)).status, 403, 'OU not allowed');
  t.equal(up.requests.length, 1, 'only alice reached the upstream');
  t.equal(await metricValue(p.registry, 'ztproxy_authz_denied_total', { route: 'api' }), 2);
  const line = p.logs.find((l) => l.msg === 'request denied by identity policy' && l.rule === 'deny.cn=mallory');
  t.ok(line, 'the deciding rule is logged');
  t.equal(line?.dn, 'CN=mallory,OU=dev');
});
