// WebSocket (and any Upgrade) pass-through on HTTP/1.1, after mTLS and the
// route's policy: a real echo upstream echoes messages through ztproxy and
// sees the client's DN on the upgrade request; without a client certificate
// the upgrade never happens; refusals (policy, upstream, h2c, no upstream)
// get a clear status; an idle upgraded connection is closed.
import t from 'tap';
import { makePki } from '../helpers/pki.js';
import { baseConfig, metricValue, startProxy } from '../helpers/proxy.js';
import { acceptFor, encodeFrame, startWsEchoUpstream, wsConnect } from '../helpers/ws.js';

/** The access line is written when the proxy's side of the connection closes, just after the client's. */
async function accessLine(logs: Record<string, unknown>[], status: number): Promise<Record<string, unknown> | undefined> {
  for (let i = 0; i < 250; i++) {
    const line = logs.find((l) => l.msg === 'request completed' && l.status === status);
    if (line) return line;
    await new Promise((r) => setTimeout(r, 20));
  }
  return undefined;
}

t.test('messages echo through ztproxy; the upstream sees the DN', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice', { ou: ['dev'] });
  const up = await startWsEchoUpstream(t);
  const p = await startProxy(t, baseConfig(pki, up.url, { routes: [{ name: 'chat', upstream: up.url }] }));

  const ws = await wsConnect(t, p.port, pki.caCert, alice, '/chat?room=1', {
    headers: { 'X-Client-Subject-DN': 'CN=admin', 'Sec-WebSocket-Protocol': 'chat.v1' },
    firstFrame: encodeFrame(0x1, Buffer.from('early'), true), // arrives with the handshake
  });
  t.equal(ws.status, 101, 'switched protocols');
  t.equal(ws.headers.upgrade?.toLowerCase(), 'websocket');
  t.match(ws.headers['x-request-id'], /\S/, 'x-request-id on the 101');
  t.equal(up.upgrades.length, 1);
  const seen = up.upgrades[0]!;
  t.equal(seen['x-client-subject-dn'], 'CN=alice,OU=dev', 'the DN of the verified client, not the spoofed one');
  t.equal(seen['sec-websocket-protocol'], 'chat.v1', 'end-to-end WebSocket headers pass');
  t.equal(seen['x-forwarded-proto'], 'https');
  t.match(seen.connection, /upgrade/i);
  t.equal(ws.headers['sec-websocket-accept'], acceptFor(seen['sec-websocket-key'] as string), 'the upstream\'s accept key relayed');

  t.equal((await ws.next()).payload.toString(), 'early', 'bytes sent with the handshake reach the upstream');
  for (const msg of ['hello', 'ünïcødé', 'x'.repeat(200), 'y'.repeat(70_000)]) {
    ws.send(0x1, msg);
    const f = await ws.next();
    t.equal(f.opcode, 0x1);
    t.ok(f.payload.toString() === msg, `echo of ${msg.length} chars`);
  }
  const bin = Buffer.from([0, 1, 2, 255]);
  ws.send(0x2, bin);
  t.same((await ws.next()).payload, bin, 'binary frame echoed');
  ws.send(0x8, Buffer.from([0x03, 0xe8])); // close 1000
  t.equal((await ws.next()).opcode, 0x8, 'close answered');
  await ws.closed;

  t.equal(await metricValue(p.registry, 'ztproxy_http_requests_total', { route: 'chat', code: '101' }), 1, 'counted as 101');
  const line = await accessLine(p.logs, 101);
  t.match(line, { dn: 'CN=alice,OU=dev', path: '/chat?room=1', upgrade: 'websocket', route: 'chat' }, 'one access line when the connection ends');
  t.ok(Number(line?.bytesIn) > 70_000 && Number(line?.bytesOut) > 70_000, 'with the bytes both ways');
});

t.test('refused upgrades get a clear status and never reach the upstream', async (t) => {
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

  await t.rejects(wsConnect(t, p.port, pki.caCert, null, '/chat'), 'no client certificate: no upgrade');
  t.equal(up.upgrades.length, 0, 'the upstream saw no upgrade from the client without a certificate');

  const denied = await wsConnect(t, p.port, pki.caCert, alice, '/ops/feed');
  t.equal(denied.status, 403, 'policy: 403');
  await denied.closed;
  t.match(JSON.parse(denied.body()), { status: 403 });
  const h2c = await wsConnect(t, p.port, pki.caCert, alice, '/chat', { upgrade: 'h2c' });
  t.equal(h2c.status, 400, 'h2c upgrade: 400');
  await h2c.closed;
  t.match(h2c.body(), /h2c/);
  t.equal(up.upgrades.length, 0, 'neither reached the upstream');
  t.equal(await metricValue(p.registry, 'ztproxy_authz_denied_total', { route: 'ops' }), 1, 'the denial counted');

  const gone = await wsConnect(t, p.port, pki.caCert, alice, '/gone');
  t.equal(gone.status, 502, 'no upstream: 502');
  await gone.closed;
  t.equal(await metricValue(p.registry, 'ztproxy_upstream_errors_total', { route: 'gone', kind: 'connect' }), 1);

  const refused = await wsConnect(t, p.port, pki.caCert, alice, '/refuse');
  t.equal(refused.status, 403, 'the upstream\'s refusal relayed');
  await refused.closed;
  t.equal(refused.body(), 'refused\n', 'with its body');
  t.equal(up.upgrades.length, 1);
  t.equal(up.upgrades[0]!['x-client-subject-dn'], 'CN=alice,OU=dev');
});

t.test('an idle upgraded connection is closed after upgradeIdleTimeoutMs', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice');
  const up = await startWsEchoUpstream(t);
  const p = await startProxy(t, baseConfig(pki, up.url, { limits: { upgradeIdleTimeoutMs: 300 } }));
  const ws = await wsConnect(t, p.port, pki.caCert, alice, '/idle');
  t.equal(ws.status, 101);
  ws.send(0x1, 'still here');
  t.equal((await ws.next()).payload.toString(), 'still here');
  await ws.closed; // nothing moves: the proxy closes it
  t.pass('closed by the proxy');
  t.ok(await accessLine(p.logs, 101), 'logged when it closed');
});

t.test('an active upgraded connection outlives the HTTP request timeouts', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice');
  const up = await startWsEchoUpstream(t);
  const p = await startProxy(t, baseConfig(pki, up.url, { limits: { headersTimeoutMs: 200, requestTimeoutMs: 400, idleTimeoutMs: 200, upgradeIdleTimeoutMs: 5000 } }));
  const ws = await wsConnect(t, p.port, pki.caCert, alice, '/long');
  t.equal(ws.status, 101);
  let open = true;
  void ws.closed.then(() => (open = false));
  for (let i = 0; i < 15 && open; i++) {
    await new Promise((r) => setTimeout(r, 100)); // 1.5 s in all: well past every HTTP timeout above
    ws.send(0x1, `tick ${i}`);
    t.equal((await ws.next()).payload.toString(), `tick ${i}`, `message ${i} echoed`);
  }
  t.ok(open, 'still open');
  ws.socket.destroy();
});
