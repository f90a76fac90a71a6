// Hostile case 7: floods within bounds. 300 failed handshakes from one
// address do not fill the log (at most ~10 lines a second, then a summary line
// with the count) while the counter stays exact; many distinct paths, hosts
// and methods create no new metric series; a good client is served throughout.
import t from 'tap';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { join } from 'node:path';
import { HANDSHAKE_FAILED_MSG, HANDSHAKE_SUPPRESSED_MSG } from '../../src/log/handshake-failure-log.js';
import { makePki } from '../helpers/pki.js';
import { raw, request, sample, startProxy, startUpstream, statuses, until } from './hostile-harness.js';

const BAD = 300;

t.test('a handshake-failure flood: bounded log lines, exact counters, good client served throughout', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(join(dir, 'pki'));
  const other = await makePki(join(dir, 'other'), { name: 'Flood CA' });
  const up = await startUpstream(t);
  const alice = await pki.client('alice');
  const mallory = await other.client('mallory');
  const p = await startProxy(t, { pki, upstream: up });
  const malloryCert = readFileSync(mallory.cert);
  const malloryKey = readFileSync(mallory.key);
  const bad = (i: number) =>
    new Promise<void>((resolve) => {
      // Half without a certificate, half with one from an untrusted CA.
      const s = tls.connect({ host: '127.0.0.1', port: p.port, ca: p.ca, servername: 'localhost', ...(i % 2 ? { cert: malloryCert, key: malloryKey } : {}) });
      s.on('secureConnect', () => s.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'));
      s.on('error', () => {});
      s.on('close', () => resolve());
      s.resume();
    });
  const t0 = performance.now();
  let goodServed = 0;
  for (let i = 0; i < BAD; i += 10) {
    await Promise.all(Array.from({ length: 10 }, (_, k) => bad(i + k)));
    if (i % 50 === 0) {
      t.equal((await request(p.port, p.ca, alice)).status, 200, `good client served after ${i + 10} bad handshakes`);
      goodServed++;
    }
  }
  const elapsedS = (performance.now() - t0) / 1000;
  const failed = (await sample(p.registry, 'ztproxy_tls_handshakes_total', { result: 'failed', reason: 'no_certificate' })) + (await sample(p.registry, 'ztproxy_tls_handshakes_total', { result: 'failed', reason: 'unknown_ca' }));
  t.equal(failed, BAD, 'every failure counted exactly');
  t.equal(await sample(p.registry, 'ztproxy_tls_handshakes_total', { result: 'ok', reason: '' }), goodServed, 'every good handshake counted');
  const lines = p.logs.filter((l) => l.msg === HANDSHAKE_FAILED_MSG);
  const summaries = () => p.logs.filter((l) => l.msg === HANDSHAKE_SUPPRESSED_MSG);
  const suppressed = () => summaries().reduce((n, l) => n + Number(l.suppressed), 0);
  // The summary of the last window is written by the auto-flush timer once that window ends.
  t.ok(await until(() => lines.length + suppressed() === BAD, 5000), 'logged + suppressed = failures (the summaries carry the count)');
  t.ok(summaries().length >= 1, 'at least one summary line');
  const windows = Math.ceil(elapsedS) + 2;
  t.ok(lines.length <= 10 * windows, `failure lines bounded: ${lines.length} lines in ${elapsedS.toFixed(1)} s (≤ ${10 * windows})`);
  t.ok(lines.length < BAD / 2, 'far fewer lines than failures');
  t.equal(up.seen.length, goodServed, 'only the good client reached the upstream');
  t.ok(up.seen.every((r) => r.headers['x-client-subject-dn'] === 'CN=alice'));
});

t.test('distinct paths, hosts and methods create no new metric series', async (t) => {
  const pki = await makePki(t.testdir());
  const up = await startUpstream(t);
  const alice = await pki.client('alice');
  const p = await startProxy(t, { pki, upstream: up, routes: [{ name: 'api', host: 'localhost', upstream: up.url }] });
  const sentPerBatch = (n: number) => n * 2 + 1; // plus one odd-method request per k
  const series = async () => (await p.registry.getMetricsAsJSON()).reduce((n, m) => n + (m.values?.length ?? 0), 0);
  const burst = async (tag: string, n: number) => {
    // Keep-alive batches on raw connections: requests for other hosts (404) and random paths (200).
    for (let i = 0; i < n; i += 25) {
      let bytes = '';
      for (let k = i; k < i + 25 && k < n; k++) {
        bytes += `GET /${tag}/${k}/${'x'.repeat(k % 7)}?q=${k} HTTP/1.1\r\nHost: localhost\r\n\r\n`;
        bytes += `GET /${tag}/${k} HTTP/1.1\r\nHost: h${tag}${k}.example\r\n\r\n`;
        bytes += `${['PROPFIND', 'PURGE', 'MKCOL', 'OPTIONS'][k % 4]} /${tag}/m${k} HTTP/1.1\r\nHost: localhost\r\n\r\n`;
      }
      bytes += 'GET /end HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n';
      const r = await raw(p.port, p.ca, alice, [bytes], { idleMs: 3000 });
      t.equal(statuses(r.data).length, sentPerBatch(Math.min(25, n - i)) + Math.min(25, n - i), 'every request answered');
    }
  };
  await burst('warm', 2); // every kind of answer once
  const before = await series();
  await burst('flood', 200);
  t.equal(await series(), before, 'no new series after 600 distinct paths, hosts and WebDAV-style methods');
  t.equal((await request(p.port, p.ca, alice, { path: '/after' })).status, 200, 'still serving');
  const text = await p.registry.metrics();
  t.notMatch(text, /flood|PROPFIND|PURGE|MKCOL/, 'no client-controlled value in any label');
});
