// Issue 14, items 1 and 3: request bodies that do not arrive whole never
// reach the upstream as complete; trickling uploads from one identity hold no
// upstream connection and do not starve another identity; the per-identity
// cap answers 429 with Retry-After; a stalled body gets 408; a client that
// does not read its response is cut at sendTimeoutMs and the upstream freed;
// a request waiting for a pool slot past upstreamQueueTimeoutMs gets 503.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import tls from 'node:tls';
import t from 'tap';
import { until } from '../helpers/cli.js';
import { h2connect, h2request } from '../helpers/h2.js';
import { makePki } from '../helpers/pki.js';
import { baseConfig, metricValue, request, startProxy, type ClientCert } from '../helpers/proxy.js';

interface Seen {
  url: string;
  complete: boolean;
  bytes: number;
}

/** An upstream that records whether each request body arrived whole (`req.complete`) or was aborted. */
async function judgingUpstream(t: Parameters<typeof startProxy>[0], answer?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean) {
  const seen: Seen[] = [];
  /** URLs whose request head arrived (their body may still be coming). */
  const started = new Set<string>();
  const server = http.createServer((req, res) => {
    started.add(req.url!);
    if (answer?.(req, res)) return;
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      seen.push({ url: req.url!, complete: req.complete, bytes });
      res.end('ok');
    });
    req.on('error', () => {});
    req.on('close', () => {
      if (!req.complete) seen.push({ url: req.url!, complete: false, bytes });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  }));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, seen, started, server };
}

function tlsConnect(port: number, caCert: string, c: ClientCert): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ALPNProtocols: ['http/1.1'], ca: readFileSync(caCert), cert: readFileSync(c.cert), key: readFileSync(c.key) });
    s.once('secureConnect', () => resolve(s)).once('error', reject);
  });
}

t.test('truncated PUT bodies never reach the upstream as complete (HTTP/2 reset, HTTP/1.1 close; buffered and streamed)', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice');
  const up = await judgingUpstream(t);
  const p = await startProxy(t, baseConfig(pki, up.url, { limits: { requestBufferBytes: 4096 } }));
  const s = await h2connect(t, p.port, pki.caCert, alice);

  // HTTP/2, small body (buffered): 10 of 1000 bytes, then RST_STREAM.
  const small = s.request({ ':method': 'PUT', ':path': '/h2-small', 'content-length': '1000' }, { endStream: false });
  small.on('error', () => {});
  small.write(Buffer.alloc(10, 0x61));
  await new Promise((r) => setTimeout(r, 200));
  small.close(http2.constants.NGHTTP2_CANCEL);
  // HTTP/2, large body (streamed): 40 KiB of 100 KiB, then RST_STREAM.
  const large = s.request({ ':method': 'PUT', ':path': '/h2-large', 'content-length': String(100 * 1024) }, { endStream: false });
  large.on('error', () => {});
  large.write(Buffer.alloc(40 * 1024, 0x62));
  await until(() => up.started.has('/h2-large'), 'the large body to be streaming upstream');
  large.close(http2.constants.NGHTTP2_CANCEL);
  // HTTP/2, content-length larger than the body sent with END_STREAM.
  const short = s.request({ ':method': 'PUT', ':path': '/h2-cl-mismatch', 'content-length': '1000' }, { endStream: false });
  short.on('error', () => {});
  short.end(Buffer.alloc(10, 0x63));
  // HTTP/1.1: headers and 50 KiB of 100 KiB, then the connection closes.
  const raw = await tlsConnect(p.port, pki.caCert, alice);
  raw.on('error', () => {});
  raw.write(`PUT /h1-large HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${100 * 1024}\r\n\r\n`);
  raw.write(Buffer.alloc(50 * 1024, 0x64));
  await until(() => up.started.has('/h1-large'), 'the HTTP/1.1 body to be streaming upstream');
  raw.destroy();

  await until(() => up.seen.some((x) => x.url === '/h2-large') && up.seen.some((x) => x.url === '/h1-large'), 'the upstream to see both streamed requests end', 300);
  await until(() => p.server.upstreamStats()[0]!.inFlight === 0, 'upstream requests finished or aborted', 300);
  t.notOk(up.seen.some((x) => x.complete), `no truncated body reached the upstream as complete: ${JSON.stringify(up.seen)}`);
  t.same(up.seen.filter((x) => x.url === '/h2-small' || x.url === '/h2-cl-mismatch'), [], 'buffered bodies that did not arrive whole never reached the upstream at all');
  t.ok(up.seen.filter((x) => x.url === '/h2-large' || x.url === '/h1-large').every((x) => !x.complete), 'streamed ones reached it aborted');
  const ok = await h2request(s, { ':method': 'PUT', ':path': '/whole', 'content-length': '1000' }, Buffer.alloc(1000, 0x65));
  t.equal(ok.status, 200, 'a whole PUT still goes through');
  t.match(up.seen.find((x) => x.url === '/whole'), { complete: true, bytes: 1000 });
});

t.test('130 trickling uploads from one identity hold no upstream connection; another identity is served; the cap answers 429', async (t) => {
  const pki = await makePki(t.testdir());
  const mallory = await pki.client('mallory');
  const alice = await pki.client('alice');
  const up = await judgingUpstream(t);
  const p = await startProxy(t, baseConfig(pki, up.url, { routes: [{ name: 'default', upstream: { url: up.url, connections: 8 } }], limits: { maxConcurrentPerIdentity: 100, maxConcurrentStreams: 200 } }));
  const m = await h2connect(t, p.port, pki.caCert, mallory);
  const trickles: http2.ClientHttp2Stream[] = [];
  const statuses: number[] = [];
  for (let i = 0; i < 130; i++) {
    const st = m.request({ ':method': 'POST', ':path': `/trickle/${i}`, 'content-length': '1000' }, { endStream: false });
    st.on('error', () => {});
    st.on('response', (h) => statuses.push(Number(h[':status'])));
    st.write('x');
    trickles.push(st);
  }
  const timer = setInterval(() => trickles.forEach((st) => !st.closed && st.write('x')), 500);
  t.teardown(() => clearInterval(timer));
  await until(() => statuses.length >= 30, 'the 30 streams past the per-identity cap answered');
  t.same([...new Set(statuses)], [429], 'streams past maxConcurrentPerIdentity get 429');
  t.equal(await metricValue(p.registry, 'ztproxy_requests_refused_total', { reason: 'identity_limit' }), 30, 'counted as identity_limit');
  t.equal(p.server.upstreamStats()[0]!.inFlight, 0, 'the trickling uploads hold no upstream connection (bodies under requestBufferBytes are read first)');
  const a = await h2connect(t, p.port, pki.caCert, alice);
  const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => h2request(a, { ':path': `/alice/${i}` })));
  t.same(replies.map((r) => r.status), Array(20).fill(200), 'another identity is served meanwhile (20 requests through a pool of 8)');
});

t.test('a stalled body gets 408 at bodyTimeoutMs; the upstream request is aborted', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice');
  const up = await judgingUpstream(t);
  const p = await startProxy(t, baseConfig(pki, up.url, { limits: { bodyTimeoutMs: 500, requestBufferBytes: 1024 } }));
  const s = await h2connect(t, p.port, pki.caCert, alice);
  const st = s.request({ ':method': 'POST', ':path': '/stall', 'content-length': '100000' }, { endStream: false });
  st.on('error', () => {});
  st.write(Buffer.alloc(2048)); // past the buffer: streaming upstream
  const status = await new Promise<number>((r) => st.once('response', (h) => r(Number(h[':status']))));
  t.equal(status, 408, '408 once nothing arrived for bodyTimeoutMs');
  t.equal(await metricValue(p.registry, 'ztproxy_requests_refused_total', { reason: 'body_timeout' }), 1, 'counted as body_timeout');
  await until(() => up.seen.some((x) => x.url === '/stall'), 'the upstream to see the request end');
  t.match(up.seen.find((x) => x.url === '/stall'), { complete: false }, 'the upstream saw an aborted request');
  await until(() => p.server.upstreamStats()[0]!.inFlight === 0, 'pool slot released');
});

t.test('a client that does not read is cut at sendTimeoutMs and the upstream released', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice');
  let upstreamClosed = 0;
  const up = await judgingUpstream(t, (req, res) => {
    if (req.url !== '/big') return false;
    res.on('close', () => upstreamClosed++);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const pump = () => {
      while (res.write(chunk));
    };
    res.on('drain', pump);
    pump();
    return true;
  });
  const p = await startProxy(t, baseConfig(pki, up.url, { limits: { sendTimeoutMs: 500 } }));
  const raw = await tlsConnect(p.port, pki.caCert, alice);
  raw.on('error', () => {});
  raw.pause(); // never reads
  const closed = new Promise<void>((r) => raw.once('close', () => r()));
  raw.write('GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n');
  await until(async () => (await metricValue(p.registry, 'ztproxy_requests_refused_total', { reason: 'send_timeout' })) === 1, 'the send timeout to fire');
  raw.resume();
  await closed;
  t.pass('the HTTP/1.1 connection was closed');
  await until(() => upstreamClosed === 1 && p.server.upstreamStats()[0]!.inFlight === 0, 'the upstream response abandoned and the pool slot released');
  t.equal((await request(p.port, pki.caCert, alice, { path: '/after' })).status, 200, 'others are served');
});

t.test('a request waiting for a pool slot past upstreamQueueTimeoutMs gets 503 with Retry-After', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice');
  const hanging: http.ServerResponse[] = [];
  const up = await judgingUpstream(t, (req, res) => {
    if (req.url !== '/hang') return false;
    hanging.push(res);
    return true;
  });
  const p = await startProxy(t, baseConfig(pki, up.url, { routes: [{ name: 'default', upstream: { url: up.url, connections: 1 } }], limits: { upstreamQueueTimeoutMs: 300 } }));
  const s = await h2connect(t, p.port, pki.caCert, alice);
  const first = h2request(s, { ':path': '/hang' });
  await until(() => hanging.length === 1, 'the one pooled connection busy');
  const r = await h2request(s, { ':path': '/queued' });
  t.equal(r.status, 503, '503 after waiting upstreamQueueTimeoutMs');
  t.equal(r.headers['retry-after'], '1', 'with Retry-After');
  t.equal(await metricValue(p.registry, 'ztproxy_requests_refused_total', { reason: 'queue_timeout' }), 1, 'counted as queue_timeout');
  t.notOk(up.seen.some((x) => x.url === '/queued'), 'it never reached the upstream');
  hanging[0]!.end('done');
  t.equal((await first).status, 200);
});
