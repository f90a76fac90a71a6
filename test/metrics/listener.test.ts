import t, { type Test } from 'tap';
import { request } from 'node:http';
import { connect } from 'node:net';
import { Registry } from 'prom-client';
import { createMetrics } from '../../src/metrics/definitions.js';
import { startMetricsListener, type MetricsListener } from '../../src/metrics/listener.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(l: MetricsListener, path: string, method = 'GET', headers: Record<string, string> = {}): Promise<Reply> {
  const { host, port } = l.address();
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function start(t: Test, opts: Parameters<typeof startMetricsListener>[0]): Promise<MetricsListener> {
  const l = await startMetricsListener({ port: 0, ...opts });
  t.teardown(() => l.close());
  return l;
}

t.test('serves the registry on /metrics, loopback by default', async (t) => {
  const metrics = createMetrics(new Registry());
  metrics.initRoutes(['api']);
  metrics.handshakes.inc({ result: 'ok', reason: '' }, 3);
  metrics.requests.inc({ route: 'api', code: '200' });
  const l = await start(t, { registry: metrics.registry });
  t.equal(l.address().host, '127.0.0.1');
  t.ok(l.address().port > 0);
  const r = await get(l, '/metrics');
  t.equal(r.status, 200);
  t.equal(r.headers['content-type'], metrics.registry.contentType);
  t.match(r.body, /^ztproxy_tls_handshakes_total\{result="ok",reason=""\} 3$/m);
  t.match(r.body, /^ztproxy_http_requests_total\{route="api",code="200"\} 1$/m);
  t.match(r.body, /^# TYPE ztproxy_upstream_ttfb_seconds histogram$/m);
  const q = await get(l, '/metrics?name[]=x');
  t.equal(q.status, 200, 'query strings are ignored');
  const head = await get(l, '/metrics', 'HEAD');
  t.equal(head.status, 200);
  t.equal(head.body, '');
});

t.test('serves an aggregate function instead of a registry', async (t) => {
  const l = await start(t, { aggregate: async () => 'x_total 1\n' });
  const r = await get(l, '/metrics');
  t.equal(r.status, 200);
  t.equal(r.body, 'x_total 1\n');
  t.equal(r.headers['content-type'], Registry.PROMETHEUS_CONTENT_TYPE);
});

t.test('a failing collection answers 500 and reports the error', async (t) => {
  const errors: unknown[] = [];
  const l = await start(t, {
    aggregate: () => Promise.reject(new Error('worker gone')),
    onError: (err) => errors.push(err),
  });
  const r = await get(l, '/metrics');
  t.equal(r.status, 500);
  t.equal(errors.length, 1);
  t.equal((await get(l, '/healthz')).status, 200, 'still serving after a failure');
});

t.test('healthz and readyz', async (t) => {
  let ok = false;
  const l = await start(t, {
    registry: new Registry(),
    ready: () => ({ ok, checks: { listening: true, tlsMaterial: ok } }),
  });
  const h = await get(l, '/healthz');
  t.equal(h.status, 200);
  t.equal(h.body, 'ok\n');
  const notReady = await get(l, '/readyz');
  t.equal(notReady.status, 503);
  t.same(JSON.parse(notReady.body), { ok: false, checks: { listening: true, tlsMaterial: false } });
  ok = true;
  const isReady = await get(l, '/readyz');
  t.equal(isReady.status, 200);
  t.equal(isReady.headers['content-type'], 'application/json');
  t.same(JSON.parse(isReady.body), { ok: true, checks: { listening: true, tlsMaterial: true } });
});

t.test('readyz without a check is ready; a throwing check is not', async (t) => {
  const plain = await start(t, { registry: new Registry() });
  t.equal((await get(plain, '/readyz')).status, 200);
  const errors: unknown[] = [];
  const throwing = await start(t, {
    registry: new Registry(),
    ready: () => {
      throw new Error('boom');
    },
    onError: (err) => errors.push(err),
  });
  t.equal((await get(throwing, '/readyz')).status, 503);
  t.equal(errors.length, 1);
});

t.test('404 for other paths, 405 for other methods', async (t) => {
  const l = await start(t, { registry: new Registry() });
  for (const path of ['/', '/metricsx', '/metrics/', '/favicon.ico']) {
    t.equal((await get(l, path)).status, 404, path);
  }
  for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
    const r = await get(l, '/metrics', method);
    t.equal(r.status, 405, method);
    t.equal(r.headers.allow, 'GET, HEAD');
  }
});

t.test('oversized request headers are refused', async (t) => {
  const l = await start(t, { registry: new Registry() });
  const r = await get(l, '/metrics', 'GET', { 'x-big': 'a'.repeat(16 * 1024) });
  t.equal(r.status, 431);
  t.equal((await get(l, '/healthz')).status, 200);
});

t.test('garbage on the socket does not crash the listener', async (t) => {
  const l = await start(t, { registry: new Registry() });
  await new Promise<void>((resolve) => {
    const s = connect(l.address().port, '127.0.0.1', () => s.end('NOT HTTP\r\n\r\n'));
    s.on('close', () => resolve());
    s.on('error', () => resolve());
    s.resume();
  });
  t.equal((await get(l, '/healthz')).status, 200);
});

t.test('validation and bind errors', async (t) => {
  await t.rejects(startMetricsListener({ port: 0 }), { code: 'ZTP_INTERNAL' });
  await t.rejects(
    startMetricsListener({ port: 0, registry: new Registry(), aggregate: async () => '' }),
    { code: 'ZTP_INTERNAL' },
  );
  const l = await start(t, { registry: new Registry() });
  await t.rejects(startMetricsListener({ port: l.address().port, registry: new Registry() }), { code: 'ZTP_LISTEN' });
});

t.test('close is idempotent and closes keep-alive connections', async (t) => {
  const l = await startMetricsListener({ port: 0, registry: new Registry() });
  t.equal((await get(l, '/healthz')).status, 200);
  await Promise.all([l.close(), l.close()]);
  await t.rejects(get(l, '/healthz'), { code: 'ECONNREFUSED' });
});
