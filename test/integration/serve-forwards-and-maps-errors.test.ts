// Forwarding: bodies stream both ways intact; an upstream that is down gives
// 502 and the next request works once it is back; a slow upstream gives 504;
// a client that goes away aborts the upstream request.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { Readable } from 'node:stream';
import t from 'tap';
import { makePki } from '../helpers/pki.js';
import { baseConfig, metricValue, request, startProxy, startUpstream } from '../helpers/proxy.js';

const MiB = 1024 * 1024;

/** Deterministic pseudo-random stream of `size` bytes, hashed as it is produced. */
function generated(size: number, seed: Buffer): { stream: Readable; digest: () => string } {
  const hash = createHash('sha256');
  let sent = 0;
  let block = seed;
  const stream = new Readable({
    read() {
      if (sent >= size) return void this.push(null);
      block = createHash('sha512').update(block).digest();
      const chunk = Buffer.alloc(Math.min(64 * 1024, size - sent), block);
      sent += chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, digest: () => hash.digest('hex') };
}

t.test('large upload and download stream through intact', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice');
  let download: ReturnType<typeof generated> | null = null;
  const up = await startUpstream(t, (req, res, rec) => {
    if (req.url !== '/download') return false;
    download = generated(64 * MiB, Buffer.from('download'));
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    download.stream.pipe(res);
    void rec;
    return true;
  });
  const p = await startProxy(t, baseConfig(pki, up.url));
  const ca = readFileSync(pki.caCert);
  const cert = readFileSync(alice.cert);
  const key = readFileSync(alice.key);

  const upload = generated(100 * MiB, randomBytes(16));
  const uploaded = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', servername: 'localhost', port: p.port, method: 'PUT', path: '/upload', ca, cert, key, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    upload.stream.pipe(req);
  });
  t.equal(uploaded.status, 200);
  const rec = JSON.parse(uploaded.body) as { bodyBytes: number; bodySha256: string; headers: Record<string, string> };
  t.equal(rec.bodyBytes, 100 * MiB, '100 MiB arrived');
  t.equal(rec.bodySha256, upload.digest(), 'upload hash matches');
  t.equal(rec.headers['transfer-encoding'], 'chunked', 'streamed upstream (chunked), not buffered into a content-length');

  const got = await new Promise<{ hash: string; bytes: number }>((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', servername: 'localhost', port: p.port, path: '/download', ca, cert, key, agent: false }, (res) => {
        const h = createHash('sha256');
        let bytes = 0;
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          h.update(c);
        });
        res.on('end', () => resolve({ hash: h.digest('hex'), bytes }));
      })
      .on('error', reject);
  });
  t.equal(got.bytes, 64 * MiB, '64 MiB downloaded');
  t.equal(got.hash, download!.digest(), 'download hash matches');
});

t.test('upstream down: 502, and the next request works when it is back', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice');
  // Reserve a port, then free it so nothing listens there.
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const p = await startProxy(t, baseConfig(pki, `http://127.0.0.1:${port}`));
  const down = await request(p.port, pki.caCert, alice);
  t.equal(down.status, 502, 'connect failure is 502');
  t.ok(JSON.parse(down.body.toString()).requestId, 'error body carries the request id');
  t.equal(await metricValue(p.registry, 'ztproxy_upstream_errors_total', { route: 'default', kind: 'connect' }), 1);
  const server = http.createServer((_req, res) => res.end('back'));
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const back = await request(p.port, pki.caCert, alice);
  t.equal(back.status, 200);
  t.equal(back.body.toString(), 'back');
});

t.test('upstream header timeout is 504; client abort aborts the upstream request', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice');
  let aborted: (() => void) | null = null;
  const upstreamSawAbort = new Promise<void>((r) => (aborted = r));
  const up = await startUpstream(t, (req, res) => {
    if (req.url === '/slow') return true; // never answers
    if (req.url === '/hang') {
      res.socket?.once('close', () => aborted!());
      return true;
    }
    return false;
  });
  const p = await startProxy(t, baseConfig(pki, up.url, { limits: { upstreamTimeoutMs: 300 } }));
  const slow = await request(p.port, pki.caCert, alice, { path: '/slow' });
  t.equal(slow.status, 504);
  t.equal(await metricValue(p.registry, 'ztproxy_upstream_errors_total', { route: 'default', kind: 'timeout' }), 1);

  const p2 = await startProxy(t, baseConfig(pki, up.url, { limits: { upstreamTimeoutMs: 60_000 } }));
  const req = https.request({ host: '127.0.0.1', servername: 'localhost', port: p2.port, path: '/hang', ca: readFileSync(pki.caCert), cert: readFileSync(alice.cert), key: readFileSync(alice.key), agent: false });
  req.on('error', () => {});
  req.end();
  // Wait until the upstream has the request, then go away.
  while (!up.requests.some((r) => r.url === '/hang')) await new Promise((r) => setTimeout(r, 20));
  req.destroy();
  await upstreamSawAbort;
  t.pass('the upstream connection of an abandoned request is closed');
});
