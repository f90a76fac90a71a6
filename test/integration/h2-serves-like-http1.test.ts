// HTTP/2 on the mTLS listener, negotiated by ALPN next to HTTP/1.1: the upstream
// sees the same identity and forwarding headers whichever protocol the client
// spoke (node:http2 and curl --http2), spoofed identity headers are dropped,
// route policies apply per stream, and metrics and the access log count h2
// requests like HTTP/1.1 ones.
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import tls from 'node:tls';
import t from 'tap';
import { h2connect, h2request } from '../helpers/h2.js';
import { makePki } from '../helpers/pki.js';
import { baseConfig, metricValue, request, startProxy, startUpstream } from '../helpers/proxy.js';
import { skipUnlessInstalled } from '../helpers/tools.js';

/** Headers ztproxy sets (or must pass through unchanged) that must not depend on the client's protocol. */
const SAME = ['host', 'x-client-subject-dn', 'x-client-serial', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-custom'];

const run = promisify(execFile);
const haveCurlHttp2 = /HTTP2/.test(spawnSync('curl', ['--version'], { encoding: 'utf8' }).stdout ?? '');

t.test('h2 and http/1.1 give the upstream the same headers', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice', { ou: ['dev'] });
  const bob = await pki.client('bob', { ou: ['ops'] });
  const up = await startUpstream(t);
  const p = await startProxy(
    t,
    baseConfig(pki, up.url, {
      routes: [
        { name: 'ops', pathPrefix: '/ops', upstream: up.url, allow: { ou: ['ops'] } },
        { name: 'default', upstream: up.url },
      ],
      identityHeaders: { serial: true },
    }),
  );

  // ALPN: both protocols are offered, h2 preferred.
  for (const [offer, want] of [[['h2', 'http/1.1'], 'h2'], [['http/1.1'], 'http/1.1']] as const) {
    const got = await new Promise<string | false | null>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: p.port, servername: 'localhost', ca: readFileSync(pki.caCert), cert: readFileSync(alice.cert), key: readFileSync(alice.key), ALPNProtocols: [...offer] }, () => {
        resolve(s.alpnProtocol);
        s.destroy();
      });
      s.on('error', reject);
    });
    t.equal(got, want, `ALPN offer ${offer.join(',')} → ${want}`);
  }

  const h1 = await request(p.port, pki.caCert, alice, { path: '/a?x=1', headers: { host: `localhost:${p.port}`, 'x-custom': 'v', 'x-client-subject-dn': 'CN=admin', cookie: 'a=1; b=2' } });
  t.equal(h1.status, 200);
  const session = await h2connect(t, p.port, pki.caCert, alice);
  const h2 = await h2request(session, { ':path': '/a?x=1', 'x-custom': 'v', 'x-client-subject-dn': 'CN=admin', cookie: ['a=1', 'b=2'] });
  t.equal(h2.status, 200);
  t.equal(h2.headers['content-type'], 'application/json', 'response headers relayed');
  t.match(h2.headers['x-request-id'], /\S/, 'x-request-id on the h2 response');
  t.equal(up.requests.length, 2);
  const [r1, r2] = up.requests;
  for (const name of SAME) t.same(r2!.headers[name], r1!.headers[name], `${name}: same over h2 as over http/1.1`);
  t.equal(r2!.headers['x-client-subject-dn'], 'CN=alice,OU=dev', 'the DN of the connection, never the spoofed one');
  t.equal(r2!.headers.cookie, 'a=1; b=2', 'h2 cookie fields joined into one for the upstream');
  t.equal(r2!.url, '/a?x=1');
  t.notOk(r2!.rawHeaders.some((h) => h.startsWith(':')), 'no pseudo-header reaches the upstream');
  t.equal(r2!.rawHeaders.filter((h) => h.toLowerCase() === 'x-client-subject-dn').length, 1, 'exactly one DN header');

  // Every stream of the connection carries the identity; a body without content-length arrives whole.
  const body = Buffer.alloc(300_000, 'z');
  const [post, again] = await Promise.all([h2request(session, { ':method': 'POST', ':path': '/upload' }, body), h2request(session, { ':path': '/again' })]);
  t.equal(post.status, 200);
  t.equal(again.status, 200);
  const posted = up.requests.find((r) => r.url === '/upload')!;
  t.equal(posted.bodyBytes, body.length, 'h2 request body streamed upstream');
  t.equal(up.requests.find((r) => r.url === '/again')!.headers['x-client-subject-dn'], 'CN=alice,OU=dev');

  // Policy per route, per stream: alice (dev) is refused /ops, bob (ops) is served.
  const before = up.requests.length;
  const denied = await h2request(session, { ':path': '/ops/x' });
  t.equal(denied.status, 403, 'policy denies over h2');
  t.equal(up.requests.length, before, 'a denied stream never reaches the upstream');
  const bobSession = await h2connect(t, p.port, pki.caCert, bob);
  t.equal((await h2request(bobSession, { ':path': '/ops/x' })).status, 200, 'policy allows over h2');
  t.equal(up.requests.at(-1)!.headers['x-client-subject-dn'], 'CN=bob,OU=ops');

  // CONNECT is not tunnelled over h2 either.
  const connect = await new Promise<number>((resolve, reject) => {
    const s = session.request({ ':method': 'CONNECT', ':authority': 'example.com:443' });
    s.on('response', (h) => resolve(Number(h[':status'])));
    s.on('error', reject);
  });
  t.equal(connect, 405, 'CONNECT refused over h2');

  // Without a client certificate no h2 session starts and nothing reaches the upstream.
  const n = up.requests.length;
  await t.rejects(
    (async () => {
      const s = await h2connect(t, p.port, pki.caCert, null);
      await h2request(s, { ':path': '/nocert' });
    })(),
    'no certificate: refused',
  );
  t.equal(up.requests.length, n, 'the upstream saw nothing from the client without a certificate');

  t.equal(await metricValue(p.registry, 'ztproxy_http_requests_total', { route: 'ops', code: '403' }), 1, 'h2 denial counted');
  t.equal(await metricValue(p.registry, 'ztproxy_authz_denied_total', { route: 'ops' }), 1);
  t.equal(await metricValue(p.registry, 'ztproxy_http_requests_total', { route: 'default', code: '200' }), 4, 'h2 and h1 requests counted');
  const access = p.logs.filter((l) => l.msg === 'request completed');
  t.ok(
    access.some((l) => l.httpVersion === '2.0' && l.dn === 'CN=alice,OU=dev' && l.path === '/a?x=1' && l.status === 200),
    'access log line for the h2 request, with DN and protocol',
  );
  const h2line = access.find((l) => l.httpVersion === '2.0' && l.path === '/a?x=1')!;
  t.equal(h2line.bytesOut, h2.body.length, 'h2: bytesOut is the stream\'s response body');
  t.equal(h2line.bytesIn, null, 'h2: no per-stream request byte count (the connection is shared)');
  t.ok(access.some((l) => l.httpVersion === '1.1' && l.path === '/a?x=1'), 'and for the http/1.1 one');
});

t.test('curl --http2 with a client certificate gets the same upstream headers', { skip: skipUnlessInstalled(haveCurlHttp2, 'curl with HTTP2') }, async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice', { ou: ['dev'] });
  const up = await startUpstream(t);
  const p = await startProxy(t, baseConfig(pki, up.url));
  // The proxy runs in this process: curl must run asynchronously.
  const curl = (proto: string) =>
    run(
      'curl',
      [proto, '-sS', '-o', '/dev/null', '-w', '%{http_version} %{http_code}', '--cacert', pki.caCert, '--cert', alice.cert, '--key', alice.key,
        '--resolve', `localhost:${p.port}:127.0.0.1`, '-H', 'X-Custom: v', `https://localhost:${p.port}/curl`],
      { encoding: 'utf8', timeout: 20_000 },
    );
  const c2 = await curl('--http2');
  t.equal(c2.stdout, '2 200', `curl --http2 served over h2 (${c2.stderr})`);
  const c1 = await curl('--http1.1');
  t.equal(c1.stdout, '1.1 200', `curl --http1.1 served (${c1.stderr})`);
  t.equal(up.requests.length, 2);
  for (const name of SAME) t.same(up.requests[0]!.headers[name], up.requests[1]!.headers[name], `${name}: same for curl over h2 and http/1.1`);
  t.equal(up.requests[0]!.headers['x-client-subject-dn'], 'CN=alice,OU=dev');
  await t.rejects(
    run('curl', ['--http2', '-sS', '-o', '/dev/null', '--cacert', pki.caCert, '--resolve', `localhost:${p.port}:127.0.0.1`, `https://localhost:${p.port}/nocert`], { timeout: 20_000 }),
    'curl --http2 without a certificate fails',
  );
  t.equal(up.requests.length, 2, 'and reaches nothing');
});
