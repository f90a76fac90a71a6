// A client without a certificate is refused inside the TLS handshake with the
// alert TLS defines for it (certificate_required, 116, under TLS 1.3;
// handshake_failure, 40, under TLS 1.2), so browsers and curl can say why. A
// client that walks away after the CertificateRequest, as a browser does in
// its certificate-selection round, is counted as aborted, not failed, and
// logged at debug.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { Registry } from 'prom-client';
import { resolveConfig } from '../../src/config/index.js';
import { HANDSHAKE_ABORTED_MSG, HANDSHAKE_FAILED_MSG } from '../../src/log/handshake-failure-log.js';
import { createMetrics } from '../../src/metrics/index.js';
import { ProxyServer } from '../../src/proxy/server.js';
import { abortAtCertificateRequest } from '../helpers/cert-request-abort.js';
import { makePki, type Pki } from '../helpers/pki.js';
import { baseConfig, memoryLogger, metricValue, request, startUpstream } from '../helpers/proxy.js';
import { skipUnlessInstalled } from '../helpers/tools.js';

const haveOpenssl = spawnSync('openssl', ['version']).status === 0;
const haveCurl = spawnSync('curl', ['--version']).status === 0;

/** Runs a command asynchronously (the proxy runs in this process): exit code and stdout + stderr. */
function run(cmd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (b: Buffer) => (out += b.toString()));
    c.stderr.on('data', (b: Buffer) => (out += b.toString()));
    c.on('close', (code) => resolve({ code, out }));
    c.stdin.end();
  });
}

async function start(t: { teardown(fn: () => unknown): void }, pki: Pki) {
  const up = await startUpstream(t);
  const registry = new Registry();
  const metrics = createMetrics(registry);
  const { log, logs } = memoryLogger('debug');
  const server = await ProxyServer.create(resolveConfig(baseConfig(pki, up.url)), { log, metrics });
  const { port } = await server.listen();
  t.teardown(() => server.close(0));
  const count = (labels: Record<string, string>) => metricValue(registry, 'ztproxy_tls_handshakes_total', labels);
  return { up, port, logs, count };
}

/** A Node TLS client without a certificate: the error it ends with, and whether any application data arrived. */
function noCertClient(port: number, ca: Buffer, version: tls.SecureVersion): Promise<{ code: string | undefined; data: number }> {
  return new Promise((resolve) => {
    let code: string | undefined;
    let data = 0;
    const c = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca, minVersion: version, maxVersion: version });
    c.on('secureConnect', () => c.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'));
    c.on('data', (b: Buffer) => (data += b.length));
    c.on('error', (e: Error & { code?: string }) => (code ??= e.code));
    c.on('close', () => resolve({ code, data }));
  });
}

t.test('no certificate: the handshake ends with the TLS alert, counted as no_certificate', async (t) => {
  const pki = await makePki(t.testdir());
  const ca = readFileSync(pki.caCert);
  const p = await start(t, pki);
  const tls13 = await noCertClient(p.port, ca, 'TLSv1.3');
  t.equal(tls13.code, 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'TLS 1.3: alert certificate_required (116)');
  t.equal(tls13.data, 0, 'TLS 1.3: no application data');
  const tls12 = await noCertClient(p.port, ca, 'TLSv1.2');
  // OpenSSL 3.0 (Node 20) names it SSLV3_ALERT_HANDSHAKE_FAILURE, OpenSSL 3.5 (Node 24) SSL/TLS_ALERT_HANDSHAKE_FAILURE.
  t.match(tls12.code, /^ERR_SSL_SSL(V3|\/TLS)_ALERT_HANDSHAKE_FAILURE$/, 'TLS 1.2: alert handshake_failure (40)');
  t.equal(tls12.data, 0, 'TLS 1.2: no application data');
  t.equal(await p.count({ result: 'failed', reason: 'no_certificate' }), 2);
  t.equal(await p.count({ result: 'failed' }), 2, 'no other failure');
  const lines = p.logs.filter((l) => l.msg === HANDSHAKE_FAILED_MSG);
  t.equal(lines.length, 2);
  for (const l of lines) {
    t.equal(l.level, 40, 'warn');
    t.equal(l.reason, 'no_certificate');
    t.equal(l.verifyError, null, 'no verify error claimed for a client that sent no certificate');
    t.equal(l.code, 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE');
  }
  t.equal(p.up.requests.length, 0);
});

t.test('openssl s_client without a certificate reads the alert', { skip: skipUnlessInstalled(haveOpenssl, 'openssl') }, async (t) => {
  const pki = await makePki(t.testdir());
  const p = await start(t, pki);
  for (const [flag, alert, num] of [
    ['-tls1_3', 'alert certificate required', '116'],
    ['-tls1_2', 'alert handshake failure', '40'],
  ] as const) {
    // -ign_eof keeps s_client reading after its (empty) stdin ends, so it reads the server's answer.
    const { out } = await run('openssl', ['s_client', '-connect', `127.0.0.1:${p.port}`, '-servername', 'localhost', '-CAfile', pki.caCert, flag, '-ign_eof']);
    t.match(out, alert, `${flag}: ${alert}`);
    t.match(out, `SSL alert number ${num}`, `${flag}: alert number ${num}`);
  }
  t.equal(await p.count({ result: 'failed', reason: 'no_certificate' }), 2);
});

t.test('curl without a certificate reports the TLS 1.2 alert', { skip: skipUnlessInstalled(haveCurl, 'curl') }, async (t) => {
  // TLS 1.2 only: under TLS 1.3 curl sends its request right after its Finished, and when that request
  // reaches the server after Node has closed the refused connection the kernel answers it with RST,
  // which can overtake the alert in curl (exit 55 instead of 56); docs/protocols.md.
  const pki = await makePki(t.testdir());
  const p = await start(t, pki);
  const r = await run('curl', ['-sS', '--cacert', pki.caCert, '--tlsv1.2', '--tls-max', '1.2', `https://localhost:${p.port}/`]);
  t.equal(r.code, 35, 'TLS 1.2: exit 35 (handshake error)');
  t.match(r.out, /alert handshake failure/, 'TLS 1.2: the alert');
  t.equal(await p.count({ result: 'failed', reason: 'no_certificate' }), 1);
  t.equal(p.up.requests.length, 0);
});

t.test('a client that closes after the CertificateRequest is aborted, not failed', async (t) => {
  const pki = await makePki(t.testdir());
  const ca = readFileSync(pki.caCert);
  const alice = await pki.client('alice');
  const p = await start(t, pki);
  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    for (const reset of [false, true]) {
      const r = await abortAtCertificateRequest(p.port, { ca, version, reset });
      t.ok(r.answered, `${version} ${reset ? 'RST' : 'FIN'}: the client read the server flight before closing`);
    }
  }
  // The counter is bumped when Node reports the close, which may follow the client's close by a moment.
  const deadline = Date.now() + 10_000;
  while ((await p.count({ result: 'aborted' })) < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.equal(await p.count({ result: 'aborted', reason: 'after_certificate_request' }), 4, 'four aborted handshakes');
  t.equal(await p.count({ result: 'failed' }), 0, 'no failure counted');
  t.equal(p.logs.filter((l) => l.msg === HANDSHAKE_FAILED_MSG).length, 0, 'no warn line');
  const aborted = p.logs.filter((l) => l.msg === HANDSHAKE_ABORTED_MSG);
  t.equal(aborted.length, 4);
  t.ok(aborted.every((l) => l.level === 20 && l.reason === 'after_certificate_request'), 'debug lines with the reason');

  // The browser's retry with its certificate is served.
  t.equal((await request(p.port, pki.caCert, alice)).status, 200);
  t.equal(await p.count({ result: 'ok' }), 1);

  // A TCP connection closed before any ClientHello is not a browser: it stays a protocol failure.
  await new Promise<void>((resolve) => {
    const c = net.connect(p.port, '127.0.0.1', () => c.end());
    c.on('close', () => resolve());
  });
  while ((await p.count({ result: 'failed' })) < 1 && Date.now() < deadline + 10_000) await new Promise((r) => setTimeout(r, 20));
  t.equal(await p.count({ result: 'failed', reason: 'protocol' }), 1, 'probe counted as protocol');
  t.equal(await p.count({ result: 'aborted' }), 4, 'and not as aborted');
});
