// The real proxy under a real Prometheus: `node dist/main.js serve` with certificates from
// test/helpers/pki.ts, N requests with a good client certificate, M handshakes without a
// certificate and M with a certificate of another CA. The counters move by exactly that, every
// dashboard query returns data and every alert rule evaluates.
// Skips without Prometheus (test/helpers/tools.ts; never in CI).
import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { makePki } from '../helpers/pki.js';
import { skipUnlessInstalled } from '../helpers/tools.js';
import {
  assertDashboardReturnsData,
  assertRulesHealthy,
  freePort,
  havePrometheus,
  parseSamples,
  poll,
  root,
  startPrometheus,
  sumOf,
  waitForScrape,
  type Sample,
} from './prometheus-harness.js';

/** The ztproxy entry; ZTPROXY_MAIN points the test at another build. */
const main = process.env.ZTPROXY_MAIN ?? join(root, 'dist/main.js');

const GOOD_REQUESTS = 5;
const BAD_HANDSHAKES = 3;

t.test('real proxy: exact handshake and request counters, dashboard and alerts', { skip: skipUnlessInstalled(havePrometheus, 'prometheus') }, async (t) => {
  const dir = t.testdir({ pki: {}, other: {} });
  const pki = await makePki(join(dir, 'pki'));
  const other = await makePki(join(dir, 'other'), { name: 'Some Other CA' });
  const alice = await pki.client('alice');
  const mallory = await other.client('mallory');
  const ca = readFileSync(pki.caCert);

  const upstream = createServer((req, res) => {
    req.resume();
    res.end('hello\n');
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => upstream.close(() => resolve())));
  const upPort = (upstream.address() as { port: number }).port;

  const port = await freePort();
  const metricsPort = await freePort();
  let proxyLog = '';
  const proxy = spawn(
    process.execPath,
    [
      main, 'serve',
      '--listen', `127.0.0.1:${port}`,
      '--cert', pki.server.cert,
      '--key', pki.server.key,
      '--client-ca', pki.caCert,
      '--upstream', `http://127.0.0.1:${upPort}`,
      '--metrics-listen', `127.0.0.1:${metricsPort}`,
      '--log-level', 'warn',
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const collect = (s: Buffer): void => {
    proxyLog = (proxyLog + s.toString('utf8')).slice(-20_000);
  };
  proxy.stdout.on('data', collect);
  proxy.stderr.on('data', collect);
  const exited = new Promise<void>((resolve) => proxy.once('exit', () => resolve()));
  t.teardown(async () => {
    proxy.kill('SIGTERM');
    const timer = setTimeout(() => proxy.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  });

  const metricsUrl = `http://127.0.0.1:${metricsPort}`;
  const ready = await poll(async () => ((await fetch(`${metricsUrl}/readyz`)).ok ? true : undefined), 30_000);
  if (!ready) {
    t.fail('the proxy did not become ready on /readyz', { proxyLog });
    return;
  }
  const scrape = async (): Promise<Sample[]> => parseSamples(await (await fetch(`${metricsUrl}/metrics`)).text());

  const prom = await startPrometheus(t, `127.0.0.1:${metricsPort}`);
  if (!prom) return;
  // The first sample must precede the traffic, or rate() has nothing to compare with.
  await waitForScrape(t, prom);
  const before = await scrape();

  // N requests with a good certificate, one connection each.
  for (let i = 0; i < GOOD_REQUESTS; i++) {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port,
          path: `/hello/${i}`,
          servername: 'localhost',
          ca,
          cert: alice.certPem,
          key: alice.keyPem,
          agent: false,
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end();
    });
    t.equal(status, 200, `good request ${i}`);
  }

  // M handshakes without a certificate, M with a certificate of another CA. Under TLS 1.3 the
  // client finishes first and learns of the rejection from the server's alert, so each attempt
  // waits for the socket to close; the client always verifies the server (no rejectUnauthorized: false).
  const attempt = (cert?: { certPem: string; keyPem: string }): Promise<string> =>
    new Promise((resolve) => {
      let outcome = 'closed';
      const s = tlsConnect({
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        ca,
        ...(cert && { cert: cert.certPem, key: cert.keyPem }),
      });
      s.setTimeout(10_000, () => s.destroy());
      s.on('secureConnect', () => s.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'));
      s.on('data', () => (outcome = 'got data'));
      s.on('error', (err: NodeJS.ErrnoException) => (outcome = err.code ?? err.message));
      s.on('close', () => resolve(outcome));
    });
  for (let i = 0; i < BAD_HANDSHAKES; i++) {
    t.not(await attempt(), 'got data', `no certificate ${i}: rejected`);
    t.not(await attempt(mallory), 'got data', `other CA ${i}: rejected`);
  }

  const delta = (after: Sample[], name: string, match: Record<string, string> = {}): number =>
    sumOf(after, name, match) - sumOf(before, name, match);
  const expected = {
    ok: GOOD_REQUESTS,
    noCert: BAD_HANDSHAKES,
    unknownCa: BAD_HANDSHAKES,
  };
  // Counting happens on the server side, after the client saw the close: poll, then assert exactly.
  const after = await poll(async () => {
    const s = await scrape();
    const settled =
      delta(s, 'ztproxy_tls_handshakes_total', { result: 'ok' }) >= expected.ok &&
      delta(s, 'ztproxy_tls_handshakes_total', { result: 'failed', reason: 'no_certificate' }) >= expected.noCert &&
      delta(s, 'ztproxy_tls_handshakes_total', { result: 'failed', reason: 'unknown_ca' }) >= expected.unknownCa &&
      delta(s, 'ztproxy_http_requests_total') >= GOOD_REQUESTS &&
      sumOf(s, 'ztproxy_connections_active') === 0;
    return settled ? s : undefined;
  }, 20_000);
  const last = after ?? (await scrape());
  t.equal(delta(last, 'ztproxy_tls_handshakes_total', { result: 'ok' }), expected.ok, 'handshakes ok = good connections');
  t.equal(delta(last, 'ztproxy_tls_handshakes_total', { result: 'failed', reason: 'no_certificate' }), expected.noCert, 'failed: no_certificate');
  t.equal(delta(last, 'ztproxy_tls_handshakes_total', { result: 'failed', reason: 'unknown_ca' }), expected.unknownCa, 'failed: unknown_ca');
  t.equal(delta(last, 'ztproxy_tls_handshakes_total', { result: 'failed' }), 2 * BAD_HANDSHAKES, 'no other failure reason moved');
  t.equal(delta(last, 'ztproxy_tls_handshake_duration_seconds_count', { result: 'ok' }), expected.ok, 'handshake durations observed');
  const routes = [...new Set(last.filter((s) => s.name === 'ztproxy_http_requests_total').map((s) => s.labels.route ?? ''))];
  const moved = routes.filter((route) => delta(last, 'ztproxy_http_requests_total', { route }) > 0);
  t.equal(moved.length, 1, `requests counted on one route (${moved.join(', ')})`);
  t.equal(delta(last, 'ztproxy_http_requests_total', { code: '200' }), GOOD_REQUESTS, 'requests{code="200"} = good requests');
  t.equal(delta(last, 'ztproxy_http_requests_total'), GOOD_REQUESTS, 'no other request counted');
  t.equal(delta(last, 'ztproxy_upstream_ttfb_seconds_count'), GOOD_REQUESTS, 'upstream ttfb observed');
  t.equal(sumOf(last, 'ztproxy_connections_active'), 0, 'connections closed');
  const expiry = last.filter((s) => s.name === 'ztproxy_certificate_expiry_timestamp_seconds');
  const serverNotAfter = expiry.find((s) => s.labels.cert === 'server')?.value ?? 0;
  t.ok(serverNotAfter > Date.now() / 1000, 'server certificate expiry exported');
  t.ok(expiry.some((s) => s.labels.cert === 'client_ca'), 'client CA expiry exported');

  await assertDashboardReturnsData(t, prom);
  await assertRulesHealthy(t, prom);
  if (!t.passing()) t.comment({ proxyLog, prometheusLog: prom.log() });
});
