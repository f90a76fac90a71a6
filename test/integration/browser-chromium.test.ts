// A real browser through ztproxy, set up the way a person would: the CA and
// the developer's .p12 come from the built CLI (`ztproxy ca init`,
// `issue-server`, `issue-client`); the .p12 goes into an NSS database in a
// temporary HOME with pk12util, the CA is trusted there with certutil, and a
// managed AutoSelectCertificateForUrls policy lets headless Chromium
// (Debian's /usr/bin/chromium, driven by puppeteer-core; nothing is
// downloaded) present it without a dialog.
//
// The page, a fetch() (with a forged X-Client-Subject-DN the proxy must
// replace) and a WebSocket all reach the upstream with the certificate's
// DN; the WebSocket goes over the page's HTTP/2 connection (RFC 8441), not a
// second one. The good visit leaves ztproxy_tls_handshakes_total
// {result="failed"} unchanged. A profile without a certificate gets
// Chromium's client-certificate error (before the handshake alert it only
// ever got ERR_CONNECTION_CLOSED); see the subtest for the TLS 1.3 race.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import puppeteer, { type Browser } from 'puppeteer-core';
import t from 'tap';
import { CHILD_ENV, MAIN } from '../helpers/cli.js';
import { metricValue, startProxy, startUpstream } from '../helpers/proxy.js';
import { skipUnlessInstalled } from '../helpers/tools.js';
import { startWsEchoUpstream } from '../helpers/ws.js';

const run = promisify(execFile);
const CHROMIUM = '/usr/bin/chromium';
const POLICY_DIR = '/etc/chromium/policies/managed';
const CA_NAME = 'ztproxy Browser Test CA';
/** What Chromium shows for a refused client certificate (alert certificate_required / handshake_failure). */
const CLIENT_CERT_ERROR = /net::ERR_(BAD_SSL_CLIENT_AUTH_CERT|SSL_CLIENT_AUTH_CERT_NEEDED)\b/;
const toolsPresent = existsSync(CHROMIUM) && existsSync('/usr/bin/pk12util') && existsSync('/usr/bin/certutil');
const skip = skipUnlessInstalled(toolsPresent, 'chromium and libnss3-tools (pk12util, certutil)');

/** Flags for a root user on a closed network; puppeteer-core adds its own automation flags. */
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A HOME whose NSS database (~/.pki/nssdb) trusts `caCert` and, given `p12`, holds the client certificate. */
async function nssHome(root: string, name: string, caCert: string, p12?: { file: string; password: string }): Promise<string> {
  const home = join(root, name);
  const db = join(home, '.pki', 'nssdb');
  mkdirSync(db, { recursive: true });
  await run('certutil', ['-N', '-d', `sql:${db}`, '--empty-password']);
  await run('certutil', ['-A', '-d', `sql:${db}`, '-n', 'ztproxy test CA', '-t', 'C,,', '-i', caCert]);
  if (p12) await run('pk12util', ['-i', p12.file, '-d', `sql:${db}`, '-W', p12.password]);
  return home;
}

/** Policy files of earlier runs whose process died before its teardown (killed by a timeout). */
function removeStalePolicies(): void {
  for (const f of readdirSync(POLICY_DIR)) {
    const pid = /^ztproxy-test-(\d+)-[0-9a-f]+\.json$/.exec(f)?.[1];
    if (pid === undefined) continue;
    try {
      process.kill(Number(pid), 0); // still running: not ours to remove
    } catch {
      rmSync(join(POLICY_DIR, f), { force: true });
    }
  }
}

async function launch(t: { teardown(fn: () => unknown): void }, home: string, root: string): Promise<Browser> {
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    userDataDir: mkdtempSync(join(root, 'profile-')),
    env: { ...process.env, HOME: home },
    timeout: 120_000,
    protocolTimeout: 120_000,
  });
  t.teardown(() => browser.close());
  return browser;
}

t.test('Chromium with the .p12 from `ca issue-client`: page, fetch and WebSocket carry the DN; without a certificate, a client-certificate error', { skip, timeout: 300_000 }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'ztproxy-chromium-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const ca = join(root, 'ca');
  const cli = (...args: string[]) => run(process.execPath, [MAIN, 'ca', ...args], { env: CHILD_ENV, cwd: root });
  await cli('init', '--dir', ca, '--name', CA_NAME);
  await cli('issue-server', '--dir', ca, '--dns', 'localhost', '--ip', '127.0.0.1', '--out-dir', root);
  await cli('issue-client', '--dir', ca, '--cn', 'alice', '--ou', 'dev', '--out-dir', root);
  const DN = 'CN=alice,OU=dev';

  // The upstream: an HTML page and a JSON echo (recording), WebSocket echo under /ws.
  const page = `<!doctype html><title>whoami</title><p id="dn">%DN%</p>`;
  const up = await startUpstream(t, (req, res, rec) => {
    if (req.url !== '/') return false;
    const dn = String(rec.headers['x-client-subject-dn'] ?? '').replace(/[<>&]/g, '');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page.replace('%DN%', dn));
    return true;
  });
  const wsUp = await startWsEchoUpstream(t);
  const p = await startProxy(t, {
    listen: '127.0.0.1:0',
    tls: { cert: join(root, 'localhost.crt'), key: join(root, 'localhost.key'), clientCA: join(ca, 'ca.crt') },
    routes: [
      { name: 'ws', pathPrefix: '/ws', upstream: wsUp.url },
      { name: 'app', upstream: up.url },
    ],
    metrics: { listen: false },
  });
  const origin = `https://localhost:${p.port}`;

  // The policy, written for this test only and removed after it, whatever happens.
  const policy = join(POLICY_DIR, `ztproxy-test-${process.pid}-${randomBytes(4).toString('hex')}.json`);
  mkdirSync(POLICY_DIR, { recursive: true });
  removeStalePolicies();
  t.teardown(() => rmSync(policy, { force: true }));
  writeFileSync(policy, JSON.stringify({ AutoSelectCertificateForUrls: [JSON.stringify({ pattern: origin, filter: { ISSUER: { CN: CA_NAME } } })] }));

  const caCert = join(ca, 'ca.crt');
  const withCert = await nssHome(root, 'alice', caCert, { file: join(root, 'alice.p12'), password: 'changeit' });
  const without = await nssHome(root, 'nobody', caCert);

  /** Non-zero samples of ztproxy_tls_handshakes_total as `result/reason`, and the failed total. */
  const handshakes = async () => {
    const m = (await p.registry.getMetricsAsJSON()).find((x) => x.name === 'ztproxy_tls_handshakes_total');
    const samples: Record<string, number> = {};
    for (const v of (m?.values ?? []) as { value: number; labels: Record<string, string | number> }[]) {
      if (v.value > 0) samples[`${v.labels.result}/${v.labels.reason ?? ''}`] = v.value;
    }
    return {
      samples,
      ok: await metricValue(p.registry, 'ztproxy_tls_handshakes_total', { result: 'ok' }),
      failed: await metricValue(p.registry, 'ztproxy_tls_handshakes_total', { result: 'failed' }),
    };
  };

  await t.test('with the certificate', async (t) => {
    const before = await handshakes();
    const t0 = performance.now();
    const browser = await launch(t, withCert, root);
    const tab = await browser.newPage();
    const res = await tab.goto(`${origin}/`, { waitUntil: 'load' });
    t.equal(res?.status(), 200, 'the page loaded');
    t.equal(await tab.$eval('#dn', (e) => e.textContent), DN, 'the page shows the DN the upstream received');
    t.equal(res?.securityDetails()?.protocol(), 'TLS 1.3');

    const seen = await tab.evaluate(async () => {
      const r = await fetch('/api/whoami', { headers: { 'X-Client-Subject-DN': 'CN=mallory,OU=admins' } });
      return (await r.json()) as { headers: Record<string, string> };
    });
    t.equal(seen.headers['x-client-subject-dn'], DN, 'fetch(): the DN of the certificate, the forged header replaced');
    const forged = up.requests.filter((r) => JSON.stringify(r.headers).includes('mallory'));
    t.same(forged, [], 'the forged DN never reached the upstream');

    const echoed = await tab.evaluate(
      (url) =>
        new Promise<string>((resolve, reject) => {
          const ws = new WebSocket(url);
          ws.onopen = () => ws.send('hello from the browser');
          ws.onmessage = (e) => {
            resolve(String(e.data));
            ws.close(1000);
          };
          ws.onerror = () => reject(new Error('WebSocket error'));
        }),
      `wss://localhost:${p.port}/ws/chat`,
    );
    t.equal(echoed, 'hello from the browser', 'a WebSocket echoes through ztproxy');
    t.equal(wsUp.upgrades.length, 1);
    t.equal(wsUp.upgrades[0]!['x-client-subject-dn'], DN, 'the WebSocket upgrade carried the DN');
    t.same(wsUp.requestLines, ['GET /ws/chat HTTP/1.1'], 'upstream: an ordinary HTTP/1.1 Upgrade');

    await browser.close();
    const seconds = (performance.now() - t0) / 1000;
    const access = p.logs.filter((l) => l.msg === 'request completed');
    for (let i = 0; i < 100 && !access.some((l) => l.upgrade === 'websocket'); i++) {
      await new Promise((r) => setTimeout(r, 50));
      access.splice(0, access.length, ...p.logs.filter((l) => l.msg === 'request completed'));
    }
    const wsLine = access.find((l) => l.upgrade === 'websocket');
    t.match(wsLine, { method: 'CONNECT', httpVersion: '2.0', status: 101, dn: DN }, 'Chromium\'s WebSocket went over HTTP/2 (extended CONNECT)');
    const page = access.find((l) => l.path === '/');
    t.equal(wsLine?.connId, page?.connId, 'on the same connection as the page');
    const after = await handshakes();
    t.comment(`ztproxy_tls_handshakes_total before ${JSON.stringify(before.samples)} after ${JSON.stringify(after.samples)}; browser visit ${seconds.toFixed(1)} s`);
    t.equal(after.failed, before.failed, 'the good visit left ztproxy_tls_handshakes_total{result="failed"} unchanged');
    t.ok(after.ok > before.ok, 'and counted as successful handshakes');
  });

  await t.test('without a certificate', async (t) => {
    // Under TLS 1.3 the refusal (alert certificate_required) comes after the client's Finished, when
    // Chromium may already be writing its request, and Node closes the socket right after the alert
    // (node:_tls_wrap destroys it). When that close reaches Chromium before it has read the alert,
    // it reports the write or the close instead (ERR_SOCKET_NOT_CONNECTED, sometimes
    // ERR_CONNECTION_CLOSED); a bare node:https server with rejectUnauthorized does the same. Before
    // the alert existed every navigation ended ERR_CONNECTION_CLOSED. So: fresh navigations until
    // one shows the client-certificate error (each refused, none reaching the upstream).
    const browser = await launch(t, without, root);
    const errors: string[] = [];
    for (let i = 0; i < 10 && !errors.some((e) => CLIENT_CERT_ERROR.test(e)); i++) {
      const tab = await browser.newPage();
      const err = await tab.goto(`${origin}/?attempt=${i}`).then(
        () => 'loaded',
        (e: Error) => e.message,
      );
      errors.push(err);
      await tab.close();
    }
    t.comment(`navigation errors: ${errors.join('; ')}`);
    t.ok(errors.some((e) => CLIENT_CERT_ERROR.test(e)), 'Chromium\'s client-certificate error');
    t.notOk(errors.includes('loaded'), 'no navigation loaded a page');
    t.equal(up.requests.filter((r) => r.url.startsWith('/?attempt=')).length, 0, 'nothing reached the upstream');
  });
});
