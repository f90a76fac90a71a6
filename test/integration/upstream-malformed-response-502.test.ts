// A malformed upstream response is a 502, never a hang and never relayed:
// raw `net` upstreams write bytes undici's parser rejects (bad status line,
// control byte in the reason phrase, invalid header name or value, two
// different Content-Lengths, Transfer-Encoding with Content-Length, a bad
// Transfer-Encoding) and headers the client's protocol cannot carry (a
// second Location or Content-Type on HTTP/2). A body that turns malformed
// after the head was relayed (a bad chunk size) cannot become a 502: the
// client sees the response cut off, never a complete one and never a hang. Each upstream keeps its socket
// open after the bad bytes, so a proxy that misses the error would wait for
// limits.upstreamTimeoutMs (504) or forever; the answer must be a 502.
import net from 'node:net';
import t, { type Test } from 'tap';
import { h2connect, h2request } from '../helpers/h2.js';
import { makePki } from '../helpers/pki.js';
import { baseConfig, request, startProxy } from '../helpers/proxy.js';

const CASES: [string, string][] = [
  ['bad status line', 'HTTX/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'],
  ['status code of two digits', 'HTTP/1.1 20 OK\r\ncontent-length: 2\r\n\r\nok'],
  ['control byte in the reason phrase', 'HTTP/1.1 200 O\x01K\r\ncontent-length: 2\r\n\r\nok'],
  ['DEL in the reason phrase', 'HTTP/1.1 200 O\x7fK\r\ncontent-length: 2\r\n\r\nok'],
  ['space in a header name', 'HTTP/1.1 200 OK\r\nbad name: x\r\ncontent-length: 2\r\n\r\nok'],
  ['header name of non-token bytes', 'HTTP/1.1 200 OK\r\nx@y: 1\r\ncontent-length: 2\r\n\r\nok'],
  ['NUL in a header value', 'HTTP/1.1 200 OK\r\nx-a: a\x00b\r\ncontent-length: 2\r\n\r\nok'],
  ['control byte in a header value', 'HTTP/1.1 200 OK\r\nx-a: a\x01b\r\ncontent-length: 2\r\n\r\nok'],
  ['DEL in a header value', 'HTTP/1.1 200 OK\r\nx-a: a\x7fb\r\ncontent-length: 2\r\n\r\nok'],
  ['bare CR in a header value', 'HTTP/1.1 200 OK\r\nx-a: a\rb\r\ncontent-length: 2\r\n\r\nok'],
  ['obs-fold continuation line', 'HTTP/1.1 200 OK\r\nx-a: a\r\n b\r\ncontent-length: 2\r\n\r\nok'],
  ['two different Content-Lengths', 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok'],
  ['Content-Length not a number', 'HTTP/1.1 200 OK\r\ncontent-length: 2x\r\n\r\nok'],
  ['Transfer-Encoding with Content-Length', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 2\r\n\r\n2\r\nok\r\n0\r\n\r\n'],
  ['no header terminator, then garbage', 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\x00\x01\x02'],
];

/** A raw upstream that answers every request with `bytes` and keeps the socket open. */
async function rawUpstream(t: Test, bytes: string): Promise<{ url: string; hits: () => number }> {
  let hits = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    let head = '';
    s.on('data', (c: Buffer) => {
      head += c.toString('latin1');
      if (head.includes('\r\n\r\n')) {
        head = '';
        hits++;
        s.write(Buffer.from(bytes, 'latin1'));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => {
    for (const s of sockets) s.destroy();
    server.close(() => r());
  }));
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, hits: () => hits };
}

/** Polls `p` until it settles or `ms` pass; 'hang' when it did not settle. */
async function settle<T>(p: Promise<T>, ms: number): Promise<T | 'hang'> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<'hang'>((r) => (timer = setTimeout(() => r('hang'), ms)));
  try {
    return await Promise.race([p, hang]);
  } finally {
    clearTimeout(timer);
  }
}

t.test('every malformed upstream response is a 502 on HTTP/1.1 and HTTP/2', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice');
  const routes: Record<string, unknown>[] = [];
  const ups: { name: string; hits: () => number }[] = [];
  for (const [i, [name, bytes]] of CASES.entries()) {
    const up = await rawUpstream(t, bytes);
    routes.push({ name: `r${i}`, pathPrefix: `/r${i}`, upstream: up.url });
    ups.push({ name, hits: up.hits });
  }
  // upstreamTimeoutMs bounds a response whose headers never end: small, yet far above a loaded machine's round trip.
  const upstreamTimeoutMs = 4000;
  const p = await startProxy(t, baseConfig(pki, 'http://127.0.0.1:1', { routes, limits: { upstreamTimeoutMs }, log: { access: false } }));
  const session = await h2connect(t, p.port, pki.caCert, alice);
  // Wait far longer than upstreamTimeoutMs: a 504 means the error went unnoticed, 'hang' that nothing answered.
  const deadline = upstreamTimeoutMs * 5;
  for (const [i, { name, hits }] of ups.entries()) {
    const h1 = await settle(request(p.port, pki.caCert, alice, { path: `/r${i}` }).then((r) => r.status, (err: Error) => `error ${err.message}`), deadline);
    t.equal(h1, 502, `HTTP/1.1, ${name}: 502`);
    const h2 = await settle(h2request(session, { ':path': `/r${i}` }).then((r) => r.status, (err: Error) => `error ${err.message}`), deadline);
    t.equal(h2, 502, `HTTP/2, ${name}: 502`);
    t.ok(hits() >= 1, `${name}: the upstream was asked`);
  }
});

t.test('HTTP/2 client: headers HTTP/2 cannot carry twice are a 502, not a stalled stream', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice');
  const dup: [string, string][] = [
    ['two Location headers', 'HTTP/1.1 302 Found\r\nlocation: /a\r\nlocation: /b\r\ncontent-length: 0\r\n\r\n'],
    ['two Content-Type headers', 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-type: text/html\r\ncontent-length: 2\r\n\r\nok'],
  ];
  const routes: Record<string, unknown>[] = [];
  for (const [i, [, bytes]] of dup.entries()) routes.push({ name: `d${i}`, pathPrefix: `/d${i}`, upstream: (await rawUpstream(t, bytes)).url });
  const upstreamTimeoutMs = 4000;
  const p = await startProxy(t, baseConfig(pki, 'http://127.0.0.1:1', { routes, limits: { upstreamTimeoutMs }, log: { access: false } }));
  const session = await h2connect(t, p.port, pki.caCert, alice);
  for (const [i, [name]] of dup.entries()) {
    const h2 = await settle(h2request(session, { ':path': `/d${i}` }).then((r) => r.status, (err: Error) => `error ${err.message}`), upstreamTimeoutMs * 5);
    t.equal(h2, 502, `HTTP/2, ${name}: 502`);
    const h1 = await settle(request(p.port, pki.caCert, alice, { path: `/d${i}` }).then((r) => r.status, (err: Error) => `error ${err.message}`), upstreamTimeoutMs * 5);
    t.ok(h1 === 502 || h1 === 200 || h1 === 302, `HTTP/1.1, ${name}: ${h1} (HTTP/1.1 can carry both)`);
  }
});

t.test('a bad chunk after the head: the client sees the response cut off, not a hang', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice');
  const up = await rawUpstream(t, 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\nzz\r\n');
  const upstreamTimeoutMs = 4000;
  const p = await startProxy(t, baseConfig(pki, up.url, { limits: { upstreamTimeoutMs }, log: { access: false } }));
  const h1 = await settle(request(p.port, pki.caCert, alice, { path: '/' }).then((r) => `complete ${r.status}`, () => 'cut off'), upstreamTimeoutMs * 5);
  t.equal(h1, 'cut off', 'HTTP/1.1: cut off');
  const session = await h2connect(t, p.port, pki.caCert, alice);
  const h2 = await settle(h2request(session, { ':path': '/' }).then((r) => `complete ${r.status}`, () => 'cut off'), upstreamTimeoutMs * 5);
  t.equal(h2, 'cut off', 'HTTP/2: stream reset');
});
