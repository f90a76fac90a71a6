// mTLS on the second hop: an upstream that requires a client certificate
// accepts ztproxy's (`upstream.cert`/`key`), verified against `upstream.ca`
// under `upstream.servername`, over pooled keep-alive connections; a direct
// client without a certificate is refused; a wrong upstream CA, a wrong name
// or a missing client certificate give 502 with the reason logged.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import t from 'tap';
import { makePki } from '../helpers/pki.js';
import { baseConfig, metricValue, request, startProxy } from '../helpers/proxy.js';

interface Seen {
  url: string;
  peerCN: string;
  dn: string | undefined;
}

async function startTlsUpstream(t: { teardown(fn: () => unknown): void }, files: { cert: string; key: string; ca: string }) {
  const seen: Seen[] = [];
  let handshakes = 0;
  const server = https.createServer({ cert: readFileSync(files.cert), key: readFileSync(files.key), ca: readFileSync(files.ca), requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    seen.push({ url: req.url!, peerCN: String(peer.subject?.CN ?? ''), dn: req.headers['x-client-subject-dn'] as string | undefined });
    req.resume();
    res.end('upstream ok\n');
  });
  server.on('secureConnection', () => handshakes++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { port: (server.address() as { port: number }).port, seen, handshakes: () => handshakes };
}

t.test('ztproxy authenticates itself to an upstream that requires mTLS', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(join(dir, 'front'));
  const upki = await makePki(join(dir, 'back'), { name: 'Upstream CA', serverDns: ['billing.internal'] });
  const alice = await pki.client('alice', { ou: ['dev'] });
  const proxyId = await upki.client('ztproxy-billing');
  const up = await startTlsUpstream(t, { cert: upki.server.cert, key: upki.server.key, ca: upki.caCert });
  const url = `https://127.0.0.1:${up.port}`;
  const p = await startProxy(
    t,
    baseConfig(pki, url, {
      routes: [
        { name: 'billing', pathPrefix: '/billing', upstream: { url, ca: upki.caCert, cert: proxyId.cert, key: proxyId.key, servername: 'billing.internal' } },
        { name: 'wrong-ca', pathPrefix: '/wrong-ca', upstream: { url, ca: pki.caCert, cert: proxyId.cert, key: proxyId.key, servername: 'billing.internal' } },
        { name: 'wrong-name', pathPrefix: '/wrong-name', upstream: { url, ca: upki.caCert, cert: proxyId.cert, key: proxyId.key, servername: 'payroll.internal' } },
        { name: 'no-client-cert', pathPrefix: '/no-client-cert', upstream: { url, ca: upki.caCert, servername: 'billing.internal' } },
      ],
    }),
  );

  for (let i = 0; i < 3; i++) {
    const r = await request(p.port, pki.caCert, alice, { path: `/billing/${i}` });
    t.equal(r.status, 200, `request ${i} served through mTLS`);
    t.equal(r.body.toString(), 'upstream ok\n');
  }
  t.equal(up.seen.length, 3);
  t.ok(up.seen.every((s) => s.peerCN === 'ztproxy-billing'), 'the upstream saw ztproxy\'s client certificate');
  t.ok(up.seen.every((s) => s.dn === 'CN=alice,OU=dev'), 'and the client identity header');
  t.equal(up.handshakes(), 1, 'one pooled keep-alive TLS connection for sequential requests');

  // The upstream itself refuses a client without a certificate.
  await t.rejects(
    new Promise((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: up.port, servername: 'billing.internal', ca: readFileSync(upki.caCert), path: '/direct', agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      });
      req.on('error', reject);
      req.end();
    }),
    'a direct client without a certificate is refused by the upstream',
  );
  t.equal(up.seen.length, 3, 'the direct client reached nothing');

  for (const [route, reason] of [
    ['wrong-ca', /CERT|VERIFY|SIGNATURE|ISSUER/],
    ['wrong-name', /ERR_TLS_CERT_ALTNAME_INVALID/],
    ['no-client-cert', /.+/],
  ] as const) {
    const r = await request(p.port, pki.caCert, alice, { path: `/${route}/x` });
    t.equal(r.status, 502, `${route}: 502`);
    const line = p.logs.find((l) => l.msg === 'upstream request failed' && l.route === route) as { err?: { code?: string; message?: string }; kind?: string } | undefined;
    t.ok(line, `${route}: logged`);
    t.match(line?.err?.code ?? line?.err?.message ?? '', reason, `${route}: the log says why (${line?.err?.code ?? line?.err?.message})`);
  }
  t.equal(up.seen.length, 3, 'no request through a refused second hop reached the upstream');
  t.equal(await metricValue(p.registry, 'ztproxy_upstream_errors_total', { route: 'wrong-ca', kind: 'tls' }), 1, 'wrong CA counted as tls');
  t.equal(await metricValue(p.registry, 'ztproxy_upstream_errors_total', { route: 'wrong-name', kind: 'tls' }), 1, 'wrong name counted as tls');
});
