// Rapid reset (CVE-2023-44487): a client that opens and cancels streams in a
// loop is cut off (GOAWAY, connection closed), counted and logged, while a
// well-behaved client on another connection is served throughout and the
// process keeps serving afterwards. Also: the advertised HTTP/2 limits.
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import tls from 'node:tls';
import t from 'tap';
import { h2connect, h2request } from '../helpers/h2.js';
import { makePki } from '../helpers/pki.js';
import { baseConfig, metricValue, startProxy, startUpstream, type ClientCert } from '../helpers/proxy.js';

/** Upper bound of streams the attacker opens; the cut-off must come long before. */
const MAX_ATTACK_STREAMS = 5000;

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId, 5);
  return Buffer.concat([h, payload]);
}

/**
 * The attack as published: raw frames, HEADERS then RST_STREAM(CANCEL) for
 * stream after stream, never waiting for the server (node's own client
 * would queue streams behind SETTINGS_MAX_CONCURRENT_STREAMS).
 */
async function rapidReset(port: number, caCert: string, client: ClientCert): Promise<{ opened: number; goawayCode: number | null }> {
  const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ALPNProtocols: ['h2'], ca: readFileSync(caCert), cert: readFileSync(client.cert), key: readFileSync(client.key) });
  await new Promise<void>((resolve, reject) => s.once('secureConnect', resolve).once('error', reject));
  let goawayCode: number | null = null;
  let closed = false;
  const done = new Promise<void>((resolve) => s.once('close', () => resolve()));
  s.on('close', () => (closed = true));
  s.on('error', () => {}); // the server may reset the connection
  let inbuf = Buffer.alloc(0);
  s.on('data', (d: Buffer) => {
    inbuf = Buffer.concat([inbuf, d]);
    while (inbuf.length >= 9) {
      const len = inbuf.readUIntBE(0, 3);
      if (inbuf.length < 9 + len) break;
      const [type, flags] = [inbuf[3]!, inbuf[4]!];
      if (type === 0x4 && (flags & 0x1) === 0) s.write(frame(0x4, 0x1, 0, Buffer.alloc(0))); // SETTINGS ACK
      if (type === 0x7) goawayCode ??= inbuf.readUInt32BE(9 + 4);
      inbuf = inbuf.subarray(9 + len);
    }
  });
  s.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(0x4, 0, 0, Buffer.alloc(0))]));
  // :method GET, :scheme https, :path /, :authority localhost (HPACK static indexes 2, 7, 4; literal 1).
  const block = Buffer.concat([Buffer.from([0x82, 0x87, 0x84, 0x01, 9]), Buffer.from('localhost')]);
  const cancel = Buffer.alloc(4);
  cancel.writeUInt32BE(http2.constants.NGHTTP2_CANCEL);
  let opened = 0;
  while (opened < MAX_ATTACK_STREAMS && !closed && goawayCode === null) {
    const burst: Buffer[] = [];
    for (let k = 0; k < 50; k++, opened++) {
      const id = 2 * opened + 1;
      burst.push(frame(0x1, 0x5, id, block), frame(0x3, 0, id, cancel)); // HEADERS END_STREAM|END_HEADERS, RST_STREAM
    }
    if (!s.write(Buffer.concat(burst))) await new Promise((r) => s.once('drain', r).once('close', r));
    await new Promise((r) => setImmediate(r));
  }
  await done;
  return { opened, goawayCode };
}

t.test('a rapid-reset client is cut off; others are served throughout', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice');
  const mallory = await pki.client('mallory');
  const up = await startUpstream(t);
  const p = await startProxy(t, baseConfig(pki, up.url));

  const good = await h2connect(t, p.port, pki.caCert, alice);
  let attacking = true;
  const goodStatuses: number[] = [];
  const served = (async () => {
    while (attacking) goodStatuses.push((await h2request(good, { ':path': '/good' })).status);
  })();
  const { opened, goawayCode } = await rapidReset(p.port, pki.caCert, mallory);
  attacking = false;
  await served;

  t.ok(opened < MAX_ATTACK_STREAMS, `attacker cut off after ${opened} streams`);
  t.ok(goawayCode === null || goawayCode === http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, `GOAWAY ENHANCE_YOUR_CALM if it got through before the close (${goawayCode})`);
  t.equal(await metricValue(p.registry, 'ztproxy_http2_sessions_cut_total', { reason: 'rapid_reset' }), 1, 'counted once');
  const warn = p.logs.find((l) => l.msg === 'http2 session cut off');
  t.match(warn, { level: 40, reason: 'rapid_reset', connId: /\S/, resets: 201 }, 'logged with the connection, past the default 200 resets');
  t.ok(goodStatuses.length > 0, `the good client was served during the attack (${goodStatuses.length} requests)`);
  t.ok(
    goodStatuses.every((s) => s === 200),
    'every request of the good client succeeded',
  );
  t.equal((await h2request(good, { ':path': '/after' })).status, 200, 'its connection is still served after the attack');
  const fresh = await h2connect(t, p.port, pki.caCert, mallory);
  t.equal((await h2request(fresh, { ':path': '/after' })).status, 200, 'the process serves new connections');
});

t.test('advertised limits: concurrent streams and header list size', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice');
  const up = await startUpstream(t);
  const p = await startProxy(t, baseConfig(pki, up.url));
  const s = await h2connect(t, p.port, pki.caCert, alice);
  t.equal(s.remoteSettings.maxConcurrentStreams, 100, 'SETTINGS_MAX_CONCURRENT_STREAMS 100');
  t.equal(s.remoteSettings.maxHeaderListSize, 16384, 'SETTINGS_MAX_HEADER_LIST_SIZE 16 KiB');
  t.equal(s.remoteSettings.enablePush, false, 'no server push');

  const n = up.requests.length;
  await t.rejects(h2request(s, { ':path': '/big', 'x-big': 'a'.repeat(20_000) }), { code: 'ERR_HTTP2_STREAM_ERROR' }, 'a header list over 16 KiB is refused');
  t.equal(up.requests.length, n, 'and never forwarded');
  const s2 = await h2connect(t, p.port, pki.caCert, alice);
  t.equal((await h2request(s2, { ':path': '/small' })).status, 200, 'normal requests still served');
});
