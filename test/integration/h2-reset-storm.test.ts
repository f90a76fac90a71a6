// Issue 14, items 1 and 2 on HTTP/2: a storm of HEADERS + RST_STREAM under the
// rapid-reset threshold leaves the upstream pool idle and the proxy serving;
// past the threshold the attacker sees GOAWAY ENHANCE_YOUR_CALM and its TCP
// connection closed whatever it does, while another client is served.
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import tls from 'node:tls';
import t from 'tap';
import { h2connect, h2request } from '../helpers/h2.js';
import { makePki } from '../helpers/pki.js';
import { baseConfig, metricValue, startProxy, startUpstream, type ClientCert } from '../helpers/proxy.js';
import { until } from '../helpers/cli.js';

/** An upstream that answers after `delayMs` with `bytes` of body: the response arrives after the client's reset. */
async function slowUpstream(t: Parameters<typeof startUpstream>[0], delayMs: number, bytes: number) {
  return startUpstream(t, (_req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes });
      res.end(Buffer.alloc(bytes, 0x61));
    }, delayMs);
    return true;
  });
}

/** Opens `n` streams and cancels each right after its request (node's client: HEADERS, then RST_STREAM CANCEL). */
async function resetStorm(session: http2.ClientHttp2Session, n: number, path = '/storm'): Promise<void> {
  const closed: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const s = session.request({ ':method': 'GET', ':path': `${path}/${i}` });
    s.on('error', () => {});
    closed.push(new Promise((r) => s.once('close', () => r())));
    s.close(http2.constants.NGHTTP2_CANCEL);
  }
  await Promise.all(closed);
}

/** One request with a deadline far above any product limit: a wedged pool fails the test instead of hanging it. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms: ${what}`)), ms)))]).finally(() => clearTimeout(timer));
}

t.test('130 cancelled streams (under the rapid-reset threshold) leave the pool idle; 20 requests then succeed', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice');
  const bob = await pki.client('bob');
  const up = await slowUpstream(t, 200, 256 * 1024);
  const p = await startProxy(t, baseConfig(pki, up.url));
  const attacker = await h2connect(t, p.port, pki.caCert, alice);
  await resetStorm(attacker, 130);
  // Every upstream request the storm started is aborted or finished: nothing running, nothing queued.
  const idle = await until(
    () => {
      const [s] = p.server.upstreamStats();
      return s !== undefined && s.running === 0 && s.pending === 0 && s.queued === 0 && s.inFlight === 0 ? s : null;
    },
    'the upstream pool to go idle after the storm',
    300,
  );
  t.equal(idle.connected, idle.free, `every connected pool connection is free (${idle.connected} connected, ${idle.free} free)`);
  t.equal(await metricValue(p.registry, 'ztproxy_http2_sessions_cut_total', { reason: 'rapid_reset' }), 0, 'under the threshold: not cut off');
  const good = await h2connect(t, p.port, pki.caCert, bob);
  const statuses = await Promise.all(Array.from({ length: 20 }, (_, i) => within(h2request(good, { ':path': `/after/${i}` }), 60_000, `request ${i}`).then((r) => r.status)));
  t.same(statuses, Array(20).fill(200), '20 normal requests after the storm all succeed');
  const after = await until(() => {
    const [s] = p.server.upstreamStats();
    return s !== undefined && s.running === 0 && s.pending === 0 ? s : null;
  }, 'the pool to go idle again');
  t.equal(after.connected, after.free, 'and the pool is idle again');
});

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId, 5);
  return Buffer.concat([h, payload]);
}

/**
 * The attack as published, by a peer that ignores the server: raw frames,
 * HEADERS then RST_STREAM(CANCEL) stream after stream, still sending after
 * a GOAWAY, never closing its side. Resolves when the server closed the TCP
 * connection (or after `maxStreams`).
 */
async function stubbornRapidReset(port: number, caCert: string, client: ClientCert, maxStreams: number): Promise<{ opened: number; goawayCode: number | null; openedAfterGoaway: number; closed: boolean }> {
  const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ALPNProtocols: ['h2'], ca: readFileSync(caCert), cert: readFileSync(client.cert), key: readFileSync(client.key) });
  await new Promise<void>((resolve, reject) => s.once('secureConnect', resolve).once('error', reject));
  let goawayCode: number | null = null;
  let openedAtGoaway = -1;
  let closed = false;
  s.on('close', () => (closed = true));
  s.on('end', () => {}); // allowHalfOpen: a FIN from the server does not make us close
  s.on('error', () => {});
  let inbuf = Buffer.alloc(0);
  let opened = 0;
  s.on('data', (d: Buffer) => {
    inbuf = Buffer.concat([inbuf, d]);
    while (inbuf.length >= 9) {
      const len = inbuf.readUIntBE(0, 3);
      if (inbuf.length < 9 + len) break;
      const [type, flags] = [inbuf[3]!, inbuf[4]!];
      if (type === 0x4 && (flags & 0x1) === 0) s.write(frame(0x4, 0x1, 0, Buffer.alloc(0)));
      if (type === 0x7 && goawayCode === null) {
        goawayCode = inbuf.readUInt32BE(9 + 4);
        openedAtGoaway = opened;
      }
      inbuf = inbuf.subarray(9 + len);
    }
  });
  s.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(0x4, 0, 0, Buffer.alloc(0))]));
  const block = Buffer.concat([Buffer.from([0x82, 0x87, 0x84, 0x01, 9]), Buffer.from('localhost')]);
  const cancel = Buffer.alloc(4);
  cancel.writeUInt32BE(http2.constants.NGHTTP2_CANCEL);
  while (opened < maxStreams && !closed) {
    const burst: Buffer[] = [];
    for (let k = 0; k < 50; k++, opened++) {
      const id = 2 * opened + 1;
      burst.push(frame(0x1, 0x5, id, block), frame(0x3, 0, id, cancel));
    }
    if (!s.write(Buffer.concat(burst))) await new Promise((r) => setTimeout(r, 10)); // never waits for the server
    await new Promise((r) => setImmediate(r));
  }
  s.destroy();
  return { opened, goawayCode, openedAfterGoaway: openedAtGoaway < 0 ? 0 : opened - openedAtGoaway, closed };
}

t.test('rapid reset: GOAWAY ENHANCE_YOUR_CALM and the TCP connection closed whatever the peer does; another client served', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice');
  const mallory = await pki.client('mallory');
  const up = await startUpstream(t);
  const p = await startProxy(t, baseConfig(pki, up.url, { limits: { maxStreamResets: 50 } }));
  const good = await h2connect(t, p.port, pki.caCert, alice);
  let attacking = true;
  const goodStatuses: number[] = [];
  const served = (async () => {
    while (attacking) goodStatuses.push((await within(h2request(good, { ':path': '/good' }), 60_000, 'good request')).status);
  })();
  const r = await stubbornRapidReset(p.port, pki.caCert, mallory, 200_000);
  attacking = false;
  await served;
  t.comment(`attacker: ${r.opened} streams opened, ${r.openedAfterGoaway} after GOAWAY, goaway ${r.goawayCode}`);
  t.ok(r.closed, `the server closed the attacker's connection (after ${r.opened} streams, not 200 000)`);
  t.equal(r.goawayCode, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, 'the attacker got GOAWAY ENHANCE_YOUR_CALM first');
  t.equal(await metricValue(p.registry, 'ztproxy_http2_sessions_cut_total', { reason: 'rapid_reset' }), 1, 'cut once');
  t.ok(goodStatuses.length > 0 && goodStatuses.every((s) => s === 200), `the other client was served during the attack (${goodStatuses.length} requests, all 200)`);
  t.equal((await h2request(good, { ':path': '/after' })).status, 200, 'and after it');
});
