// WebSocket over HTTP/2 (RFC 8441) through ztproxy, with a real node:http2
// client: the SETTINGS offer extended CONNECT; a CONNECT with
// `:protocol: websocket` reaches the echo upstream as an ordinary HTTP/1.1
// Upgrade (GET, a key made by the proxy, version 13) with the client's DN
// (a spoofed one stripped); frames echo both ways on the stream; counted,
// logged and refused like an HTTP/1.1 upgrade; the session's idle timeout
// does not cut an open tunnel, the tunnel's own idle limit does.
import type http2 from 'node:http2';
import t from 'tap';
import { h2connect } from '../helpers/h2.js';
import { makePki } from '../helpers/pki.js';
import { baseConfig, metricValue, startProxy } from '../helpers/proxy.js';
import { encodeFrame, frameQueue, startWsEchoUpstream, type Frame } from '../helpers/ws.js';

interface H2Ws {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: () => string;
  send(opcode: number, payload: Buffer | string): void;
  next(): Promise<Frame>;
  closed: Promise<void>;
  stream: http2.ClientHttp2Stream;
}

/** An extended CONNECT for `path` on `session`; resolves with the response head. */
async function h2ws(session: http2.ClientHttp2Session, port: number, path: string, headers: Record<string, string> = {}): Promise<H2Ws> {
  const stream = session.request(
    { ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'https', ':path': path, ':authority': `localhost:${port}`, 'sec-websocket-version': '13', ...headers },
    { endStream: false },
  );
  stream.on('error', () => {});
  const closed = new Promise<void>((r) => stream.once('close', () => r()));
  const { read, next } = frameQueue(closed);
  let text = '';
  const head = await new Promise<{ status: number; headers: http2.IncomingHttpHeaders }>((resolve, reject) => {
    stream.once('response', (h) => resolve({ status: Number(h[':status']), headers: h }));
    stream.once('close', () => reject(new Error(`stream closed without a response (rst code ${stream.rstCode})`)));
  });
  stream.on('data', (d: Buffer) => (head.status === 200 ? read(d) : (text += d.toString('utf8'))));
  return {
    ...head,
    body: () => text,
    send: (opcode, payload) => stream.write(encodeFrame(opcode, Buffer.isBuffer(payload) ? payload : Buffer.from(payload), true)),
    next,
    closed,
    stream,
  };
}

/** The access line with `status` (and `path`), polled: it is written (batched) when the stream closes. */
async function accessLine(logs: Record<string, unknown>[], status: number, path?: string): Promise<Record<string, unknown> | undefined> {
  for (let i = 0; i < 250; i++) {
    const line = logs.find((l) => l.msg === 'request completed' && l.status === status && (path === undefined || l.path === path));
    if (line) return line;
    await new Promise((r) => setTimeout(r, 20));
  }
  return undefined;
}

t.test('extended CONNECT: frames echo through ztproxy; the upstream gets an HTTP/1.1 Upgrade with the DN', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice', { ou: ['dev'] });
  const up = await startWsEchoUpstream(t);
  const p = await startProxy(t, baseConfig(pki, up.url, { routes: [{ name: 'chat', upstream: up.url }] }));
  const session = await h2connect(t, p.port, pki.caCert, alice);
  t.equal(session.remoteSettings.enableConnectProtocol, true, 'SETTINGS_ENABLE_CONNECT_PROTOCOL offered');

  const ws = await h2ws(session, p.port, '/chat?room=1', { 'x-client-subject-dn': 'CN=admin', 'sec-websocket-protocol': 'chat.v1, chat.v0', 'sec-websocket-key': 'Y2xpZW50LWtleS0xMjM0NQ==' });
  t.equal(ws.status, 200, '200 on the stream (RFC 8441)');
  t.match(ws.headers['x-request-id'], /\S/, 'x-request-id on the response');
  t.equal(ws.headers['sec-websocket-protocol'], 'chat.v1', 'the upstream\'s subprotocol relayed');
  t.notOk('sec-websocket-accept' in ws.headers, 'no Sec-WebSocket-Accept toward an HTTP/2 client');
  t.same(up.requestLines, ['GET /chat?room=1 HTTP/1.1'], 'upstream: an ordinary HTTP/1.1 GET');
  const seen = up.upgrades[0]!;
  t.equal(seen.upgrade, 'websocket');
  t.match(seen.connection, /upgrade/i);
  t.equal(seen['sec-websocket-version'], '13');
  t.match(seen['sec-websocket-key'], /^[A-Za-z0-9+/]{22}==$/, 'a 16-byte key');
  t.not(seen['sec-websocket-key'], 'Y2xpZW50LWtleS0xMjM0NQ==', 'made by the proxy, not the client\'s');
  t.equal(seen['x-client-subject-dn'], 'CN=alice,OU=dev', 'the verified DN, the spoofed one stripped');
  t.equal(seen['sec-websocket-protocol'], 'chat.v1, chat.v0', 'end-to-end WebSocket headers pass');
  t.equal(seen.host, `localhost:${p.port}`, 'Host from :authority');
  t.equal(seen['x-forwarded-proto'], 'https');
  t.equal(seen['x-request-id'], ws.headers['x-request-id']);

  for (const msg of ['hello', 'ünïcødé', 'y'.repeat(70_000)]) {
    ws.send(0x1, msg);
    const f = await ws.next();
    t.equal(f.opcode, 0x1);
    t.ok(f.payload.toString() === msg, `echo of ${msg.length} chars`);
  }
  // 2 MiB sent at once, past every stream and connection window: flow control both ways, nothing stalls.
  const burst = Array.from({ length: 32 }, (_, i) => Buffer.alloc(65_536, i));
  for (const b of burst) ws.send(0x2, b);
  for (let i = 0; i < burst.length; i++) {
    const f = await ws.next();
    if (!f.payload.equals(burst[i]!)) t.fail(`burst frame ${i} differs`);
  }
  t.pass('a 2 MiB burst echoed in order');
  ws.send(0x2, Buffer.from([0, 1, 255]));
  t.same((await ws.next()).payload, Buffer.from([0, 1, 255]), 'binary frame echoed');

  // A second WebSocket and a plain request share the one connection.
  const ws2 = await h2ws(session, p.port, '/chat?room=2');
  ws2.send(0x1, 'two');
  t.equal((await ws2.next()).payload.toString(), 'two', 'a second tunnel on the same session');
  ws2.send(0x8, Buffer.from([0x03, 0xe8]));
  t.equal((await ws2.next()).opcode, 0x8);
  await ws2.closed;

  ws.send(0x8, Buffer.from([0x03, 0xe8])); // close 1000
  t.equal((await ws.next()).opcode, 0x8, 'close answered');
  await ws.closed;
  t.equal(ws.stream.rstCode, 0, 'the stream ended cleanly (END_STREAM both ways, no reset)');

  t.equal(await metricValue(p.registry, 'ztproxy_http_requests_total', { route: 'chat', code: '101' }), 2, 'counted as 101, like an HTTP/1.1 upgrade');
  const line = await accessLine(p.logs, 101, '/chat?room=1');
  t.match(line, { dn: 'CN=alice,OU=dev', method: 'CONNECT', httpVersion: '2.0', upgrade: 'websocket', route: 'chat' }, 'an access line per tunnel when it ends');
  t.ok(Number(line?.bytesIn) > 2_100_000 && Number(line?.bytesOut) > 2_100_000, 'with the bytes both ways');
  t.ok(await accessLine(p.logs, 101, '/chat?room=2'), 'and one for the second tunnel');
});

t.test('extended CONNECT refusals: policy, other protocols, an upstream that refuses, fails or answers a wrong accept key', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice', { ou: ['dev'] });
  const up = await startWsEchoUpstream(t);
  const p = await startProxy(
    t,
    baseConfig(pki, up.url, {
      routes: [
        { name: 'ops', pathPrefix: '/ops', upstream: up.url, allow: { ou: ['ops'] } },
        { name: 'gone', pathPrefix: '/gone', upstream: 'http://127.0.0.1:1' },
        { name: 'chat', upstream: up.url },
      ],
    }),
  );
  const session = await h2connect(t, p.port, pki.caCert, alice);

  const denied = await h2ws(session, p.port, '/ops/feed');
  t.equal(denied.status, 403, 'policy: 403');
  await denied.closed;
  t.match(JSON.parse(denied.body()), { status: 403 });
  t.equal(await metricValue(p.registry, 'ztproxy_authz_denied_total', { route: 'ops' }), 1, 'the denial counted');

  const other = await h2ws(session, p.port, '/chat', { ':protocol': 'connect-udp' });
  t.equal(other.status, 400, 'a :protocol other than websocket: 400');
  await other.closed;
  t.match(other.body(), /websocket/);
  const v8 = await h2ws(session, p.port, '/chat', { 'sec-websocket-version': '8' });
  t.equal(v8.status, 400, 'Sec-WebSocket-Version other than 13: 400');
  await v8.closed;
  t.equal(up.upgrades.length, 0, 'none of these reached the upstream');

  const plain = await new Promise<number>((resolve, reject) => {
    const s = session.request({ ':method': 'CONNECT', ':authority': 'example.com:443' }, { endStream: false });
    s.on('response', (h) => resolve(Number(h[':status'])));
    s.on('error', reject);
  });
  t.equal(plain, 405, 'a classic CONNECT (no :protocol) is still refused: ztproxy never tunnels');

  const gone = await h2ws(session, p.port, '/gone');
  t.equal(gone.status, 502, 'no upstream: 502');
  await gone.closed;
  t.equal(await metricValue(p.registry, 'ztproxy_upstream_errors_total', { route: 'gone', kind: 'connect' }), 1);

  const refused = await h2ws(session, p.port, '/refuse');
  t.equal(refused.status, 403, 'the upstream\'s refusal relayed');
  await refused.closed;
  t.equal(refused.body(), 'refused\n', 'with its body');

  const bad = await h2ws(session, p.port, '/bad-accept');
  t.equal(bad.status, 502, 'an upstream 101 with a wrong Sec-WebSocket-Accept: 502');
  await bad.closed;
  t.match(JSON.parse(bad.body()), { status: 502 });
  t.ok(p.logs.some((l) => l.msg === 'upstream websocket handshake with a wrong accept key'), 'logged');
  t.equal(up.upgrades.length, 2, 'only /refuse and /bad-accept reached the upstream');
  t.equal(up.upgrades[0]!['x-client-subject-dn'], 'CN=alice,OU=dev');
});

t.test('an open tunnel outlives the session idle timeout; an idle tunnel is closed after upgradeIdleTimeoutMs', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice');
  const up = await startWsEchoUpstream(t);
  const p = await startProxy(t, baseConfig(pki, up.url, { limits: { idleTimeoutMs: 200, upgradeIdleTimeoutMs: 1500 } }));
  const session = await h2connect(t, p.port, pki.caCert, alice);
  let sessionClosed = false;
  session.once('close', () => (sessionClosed = true));
  const ws = await h2ws(session, p.port, '/idle');
  t.equal(ws.status, 200);
  await new Promise((r) => setTimeout(r, 800)); // four session idle timeouts, half the tunnel's
  t.notOk(sessionClosed, 'the session stayed open while the tunnel is');
  ws.send(0x1, 'still here');
  t.equal((await ws.next()).payload.toString(), 'still here', 'and the tunnel works');
  await ws.closed; // nothing moves: the proxy closes it
  t.pass('the idle tunnel closed by the proxy');
  t.ok(await accessLine(p.logs, 101), 'logged when it closed');
  // The last tunnel gone, the session's own idle timeout is back.
  await new Promise<void>((r) => (sessionClosed ? r() : session.once('close', () => r())));
  t.pass('then the idle session closed');
});
