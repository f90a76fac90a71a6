// HTTP/2 header lists are held to limits.maxHeaderBytes like HTTP/1.1 headers:
// the SETTINGS_MAX_HEADER_LIST_SIZE ztproxy advertises is the one it enforces
// (RFC 9113 §6.5.2 size: name + value + 32 a field). node:http2 holds a
// stream to the setting only once the client has acknowledged it; requests
// in the client's first flight (sent before the server's SETTINGS arrive)
// got up to its 64 KB default, so a 40 KB header reached the upstream (a
// node:http upstream with its 16 KB default then answered its own 431, which
// was relayed). Now: over the limit is ztproxy's 431 (first flight) or a
// stream reset by node:http2 (after the acknowledgement), never forwarded.
// The upstream here accepts 64 KB of headers, so what it records is what
// was forwarded.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import t, { type Test } from 'tap';
import { h2connect, h2request } from '../helpers/h2.js';
import { makePki } from '../helpers/pki.js';
import { baseConfig, request, startProxy } from '../helpers/proxy.js';

/** An upstream that takes 64 KB of headers and records each request path. */
async function bigHeaderUpstream(t: Test): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  const server = http.createServer({ maxHeaderSize: 65536 }, (req, res) => {
    seen.push(req.url ?? '');
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, seen };
}

t.test('a header list over limits.maxHeaderBytes never reaches the upstream, on HTTP/2 as on HTTP/1.1', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice');
  const up = await bigHeaderUpstream(t);
  const p = await startProxy(t, baseConfig(pki, up.url, { limits: { maxHeaderBytes: 16384 } }));
  const many: Record<string, string> = {};
  for (let i = 0; i < 20; i++) many[`x-h${i}`] = 'b'.repeat(1000);
  const crumbs = Array.from({ length: 40 }, (_, i) => `c${i}=${'c'.repeat(400)}`);
  const tooBig: [string, http2.OutgoingHttpHeaders][] = [
    ['one 40 KB header', { ':path': '/big', 'x-big': 'a'.repeat(40 * 1024) }],
    ['20 headers of 1 KB', { ':path': '/many', ...many }],
    ['40 cookie crumbs of 400 bytes', { ':path': '/cookies', cookie: crumbs }],
  ];

  // First flight: the requests leave with the connection preface, before the server's SETTINGS are known.
  const first = http2.connect(`https://localhost:${p.port}`, { host: '127.0.0.1', servername: 'localhost', ca: readFileSync(pki.caCert), cert: readFileSync(alice.cert), key: readFileSync(alice.key) });
  t.teardown(() => first.destroy());
  first.on('error', () => {});
  const answers = await Promise.all(tooBig.map(([, h]) => h2request(first, h).then((r) => `${r.status} ${r.body.toString()}`, (err: Error) => err.message)));
  tooBig.forEach(([name], i) => t.match(answers[i], /^431 \{"error":"request header fields too large","status":431,/, `first flight, ${name}: ztproxy's 431`));
  t.equal((await h2request(first, { ':path': '/after' })).status, 200, 'the session stays usable after a 431');

  // After the SETTINGS exchange node:http2 resets such a stream itself; either way nothing is forwarded.
  const s = await h2connect(t, p.port, pki.caCert, alice);
  t.equal(s.remoteSettings.maxHeaderListSize, 16384, 'advertised: limits.maxHeaderBytes');
  for (const [name, h] of tooBig) {
    const r = await h2request(s, h).then((x) => x.status, () => 'reset');
    t.ok(r === 431 || r === 'reset', `after SETTINGS, ${name}: ${r}`);
  }
  t.equal((await h2request(s, { ':path': '/fits', 'x-big': 'a'.repeat(12 * 1024) })).status, 200, 'a 12 KB header fits');
  t.same(up.seen.sort(), ['/after', '/fits'], 'no oversized header list reached the upstream');

  const h1 = await request(p.port, pki.caCert, alice, { path: '/big1', headers: { 'x-big': 'a'.repeat(40 * 1024) } }).catch((err: Error) => err);
  t.equal(h1 instanceof Error ? 'error' : h1.status, 431, 'HTTP/1.1: the same 40 KB header is 431');
});
