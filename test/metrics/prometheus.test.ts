// A real Prometheus scrapes the metrics listener while traffic-like increments run: every
// dashboard query must return data through /api/v1/query, and every alert rule must evaluate
// with health "ok". The target exports every series ztproxy has (including CRL expiry, authz
// denials and upstream errors, which a short real-proxy run does not produce); the run against
// the real proxy and its exact counters is prometheus-proxy.test.ts.
import t from 'tap';
import { Registry } from 'prom-client';
import { createMetrics, HANDSHAKE_FAILURE_REASONS, UPSTREAM_ERROR_KINDS } from '../../src/metrics/definitions.js';
import { startMetricsListener } from '../../src/metrics/listener.js';
import {
  assertDashboardReturnsData,
  assertRulesHealthy,
  havePrometheus,
  startPrometheus,
  waitForScrape,
} from './prometheus-harness.js';
import { skipUnlessInstalled } from '../helpers/tools.js';

t.test('dashboard queries and alert rules against a real Prometheus', { skip: skipUnlessInstalled(havePrometheus, 'prometheus') }, async (t) => {
  const m = createMetrics(new Registry());
  const routes = ['api', 'billing'];
  m.initRoutes(routes);
  const now = Date.now() / 1000;
  m.certificateExpiry.set({ cert: 'server' }, now + 90 * 86400);
  m.certificateExpiry.set({ cert: 'client_ca' }, now + 3650 * 86400);
  m.certificateExpiry.set({ cert: 'crl_next_update' }, now + 7 * 86400);
  m.configReloads.inc({ result: 'ok' });
  let tick = 0;
  const traffic = setInterval(() => {
    tick++;
    m.handshakes.inc({ result: 'ok', reason: '' }, 5);
    m.handshakeDuration.observe({ result: 'ok' }, 0.002 + (tick % 10) / 1000);
    const reason = HANDSHAKE_FAILURE_REASONS[tick % HANDSHAKE_FAILURE_REASONS.length] ?? 'protocol';
    m.handshakes.inc({ result: 'failed', reason });
    m.handshakeDuration.observe({ result: 'failed' }, 0.001);
    for (const route of routes) {
      for (const code of ['200', '204', '302', '403', '404', '502', 'other']) m.requests.inc({ route, code });
      m.upstreamTtfb.observe({ route }, 0.01 + (tick % 5) / 100);
      m.requestDuration.observe({ route }, 0.02 + (tick % 5) / 100);
      m.authzDenied.inc({ route });
      m.upstreamErrors.inc({ route, kind: UPSTREAM_ERROR_KINDS[tick % UPSTREAM_ERROR_KINDS.length] ?? 'other' });
    }
    m.connectionsActive.set(tick % 7);
    if (tick % 10 === 0) m.configReloads.inc({ result: tick % 20 === 0 ? 'ok' : 'failed' });
  }, 100);
  t.teardown(() => clearInterval(traffic));

  const listener = await startMetricsListener({ port: 0, registry: m.registry });
  t.teardown(() => listener.close());
  const prom = await startPrometheus(t, `127.0.0.1:${listener.address().port}`);
  if (!prom) return;

  await waitForScrape(t, prom);
  const results = await assertDashboardReturnsData(t, prom);
  const classes = (results.get('Requests per second by status class A')?.data?.result ?? []).map((s) => s.metric.class);
  t.same(classes.sort(), ['2xx', '3xx', '4xx', '5xx', 'other'], 'status classes');
  const days = results.get('Days until certificate expiry A')?.data?.result ?? [];
  t.same(days.map((s) => s.metric.cert).sort(), ['client_ca', 'crl_next_update', 'server']);
  const crlDays = Number(days.find((s) => s.metric.cert === 'crl_next_update')?.value[1]);
  t.ok(crlDays > 6.9 && crlDays <= 7, `crl_next_update in ${crlDays} days`);

  await assertRulesHealthy(t, prom);
  if (!t.passing()) t.comment(prom.log());
});
