import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { createMetrics } from '../../src/metrics/definitions.js';
import { createPrimaryAggregator, createWorkerMetricsResponder } from '../../src/metrics/cluster.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixture = fileURLToPath(new URL('fixtures/cluster-primary.mjs', import.meta.url));

/** The value of one sample line `name{labels} value` in Prometheus text. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

t.test('in-process: the primary with no workers serves its own registry', async (t) => {
  const own = createMetrics(new Registry());
  own.configReloads.inc({ result: 'ok' });
  const agg = createPrimaryAggregator({ registry: own.registry });
  t.teardown(() => agg.close());
  const text = await agg.metrics();
  t.equal(sample(text, 'ztproxy_config_reloads_total{result="ok"}'), 1);
  t.equal(agg.contentType, Registry.PROMETHEUS_CONTENT_TYPE);
  const empty = createPrimaryAggregator();
  t.teardown(() => empty.close());
  t.equal((await empty.metrics()).trim(), '');
});

t.test('in-process: the worker responder is a no-op outside a worker', async (t) => {
  const stop = createWorkerMetricsResponder(new Registry());
  t.type(stop, 'function');
  stop();
});

t.test('two workers: counters and gauges summed, expiry timestamps take the minimum', async (t) => {
  const built = `${root}dist/metrics/cluster.js`;
  const source = `${root}src/metrics/cluster.ts`;
  if (!existsSync(built) || statSync(built).mtimeMs < statSync(source).mtimeMs) {
    t.fail('dist/ is missing or older than src/metrics/cluster.ts: run `npm run build` first');
    return;
  }
  const child = spawn(process.execPath, [fixture], {
    cwd: root,
    env: { ...process.env, TIMEOUT_MS: '1000', NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.teardown(async () => {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const nextLine = async (): Promise<Record<string, unknown>> => {
    const next = await Promise.race([lines.next(), exited.then(() => ({ done: true, value: '' }))]);
    if (next.done) throw new Error('cluster fixture exited');
    return JSON.parse(next.value) as Record<string, unknown>;
  };
  const { port } = (await nextLine()) as { port: number };
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  t.equal(res.status, 200);
  const text = await res.text();

  t.equal(sample(text, 'ztproxy_tls_handshakes_total{result="ok",reason=""}'), 7);
  t.equal(sample(text, 'ztproxy_tls_handshakes_total{result="failed",reason="unknown_ca"}'), 30);
  t.equal(sample(text, 'ztproxy_tls_handshakes_total{result="failed",reason="no_certificate"}'), 0);
  t.equal(sample(text, 'ztproxy_tls_handshake_duration_seconds_count{result="ok"}'), 2);
  t.equal(sample(text, 'ztproxy_tls_handshake_duration_seconds_bucket{le="0.005",result="ok"}'), 2);
  t.equal(sample(text, 'ztproxy_http_requests_total{route="api",code="200"}'), 10);
  t.equal(sample(text, 'ztproxy_http_requests_total{route="billing",code="200"}'), 0);
  t.equal(sample(text, 'ztproxy_connections_active'), 5);
  t.equal(sample(text, 'ztproxy_certificate_expiry_timestamp_seconds{cert="server"}'), 2_000_000_000);
  t.equal(sample(text, 'ztproxy_certificate_expiry_timestamp_seconds{cert="crl_next_update"}'), 1_899_999_000);
  t.equal(text.match(/^# TYPE ztproxy_tls_handshakes_total counter$/gm)?.length, 1, 'one family, not one per worker');
  t.notMatch(text, /global_registry_only_total/, "the workers' global registry is not exported");

  // A worker that never answers fails the scrape instead of returning a partial sum.
  child.kill('SIGUSR2');
  t.same(await nextLine(), { silent: true });
  const failed = await fetch(`http://127.0.0.1:${port}/metrics`);
  t.equal(failed.status, 500);
  await failed.text();
});
