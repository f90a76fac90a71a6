import { AggregatorRegistry, Histogram, Registry } from 'prom-client';
import t from 'tap';
import { createMetrics } from '../../src/metrics/index.js';
import { RouteHistogram } from '../../src/metrics/route-histogram.js';

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
// On a bound, above every bound, zero, tiny, mixed.
const VALUES = [0, 0.0001, 0.0005, 0.0007, 0.001, 0.003, 0.01, 0.0100001, 0.2, 0.5, 2.5, 29.9, 30, 31, 1e6];

/** The same observations through prom-client's Histogram and ours, each on its own registry. */
function pair() {
  const theirs = new Registry();
  const ours = new Registry();
  const help = 'Time it took';
  const p = new Histogram({ name: 'x_seconds', help, labelNames: ['route'] as const, buckets: BUCKETS, registers: [theirs] });
  const o = new RouteHistogram({ name: 'x_seconds', help, labelNames: ['route'] as const, buckets: BUCKETS, registers: [ours] });
  const pa = p.labels({ route: 'a' });
  const oa = o.labels({ route: 'a' });
  for (const v of VALUES) {
    pa.observe(v);
    oa.observe(v);
  }
  p.zero({ route: 'empty' });
  o.labels({ route: 'empty' });
  p.observe({ route: 'b"\\\n' }, 0.02);
  o.observe({ route: 'b"\\\n' }, 0.02);
  return { theirs, ours, o };
}

t.test('the exposition is byte for byte prom-client\'s', async (t) => {
  const { theirs, ours } = pair();
  t.equal(await ours.metrics(), await theirs.metrics());
});

t.test('JSON and the cluster aggregation (two workers summed) match prom-client\'s', async (t) => {
  const w1 = pair();
  const w2 = pair();
  const strip = (json: Awaited<ReturnType<Registry['getMetricsAsJSON']>>) =>
    json.map((m) => ({ name: m.name, type: m.type, help: m.help, values: m.values.map((v) => ({ labels: v.labels, value: v.value, metricName: (v as { metricName?: string }).metricName })) }));
  t.same(strip(await w1.ours.getMetricsAsJSON()), strip(await w1.theirs.getMetricsAsJSON()), 'same series, labels and values');
  const theirs = AggregatorRegistry.aggregate([await w1.theirs.getMetricsAsJSON(), await w2.theirs.getMetricsAsJSON()]);
  const ours = AggregatorRegistry.aggregate([await w1.ours.getMetricsAsJSON(), await w2.ours.getMetricsAsJSON()]);
  const text = await ours.metrics();
  t.equal(text, await theirs.metrics());
  t.match(text, /x_seconds_count\{route="a"\} 30\n/, 'counts of both workers are summed');
});

t.test('reset zeroes the series but keeps them', async (t) => {
  const { ours } = pair();
  ours.resetMetrics();
  const text = await ours.metrics();
  t.match(text, /x_seconds_count\{route="a"\} 0\n/);
  t.match(text, /x_seconds_bucket\{le="\+Inf",route="a"\} 0\n/);
});

t.test('unknown labels are refused; a non-finite value is not counted', async (t) => {
  const { o, ours } = pair();
  t.throws(() => o.labels({ route: 'a', code: '200' } as never), /unknown label code/);
  o.labels({ route: 'a' }).observe(Number.NaN);
  o.labels({ route: 'a' }).observe(Number.POSITIVE_INFINITY);
  t.match(await ours.metrics(), /x_seconds_count\{route="a"\} 15\n/);
});

t.test('a reload (initRoutes again) keeps the per-route histograms', async (t) => {
  const registry = new Registry();
  const m = createMetrics(registry);
  m.initRoutes(['api']);
  m.requestDuration.labels({ route: 'api' }).observe(0.01);
  m.upstreamTtfb.labels({ route: 'api' }).observe(0.01);
  m.initRoutes(['api', 'new']);
  const text = await registry.metrics();
  t.match(text, /ztproxy_http_request_duration_seconds_count\{route="api"\} 1\n/);
  t.match(text, /ztproxy_upstream_ttfb_seconds_count\{route="api"\} 1\n/);
  t.match(text, /ztproxy_http_request_duration_seconds_count\{route="new"\} 0\n/);
});
