// Hostile case 1: TLS session resumption. Resumption skips certificate
// verification, so (a) by default nothing resumes (TLS 1.2 session id, TLS 1.2
// ticket, TLS 1.3 PSK), checked with Node clients and with `openssl s_client
// -sess_out/-sess_in`; (b) with `tls.sessionResumption: true` a resumed
// connection carries the same verified identity; (c) after a reload with a new
// CRL or another client CA, an old session cannot resume its way in
// (nginx CVE-2025-23419 is the SNI variant); (d) a connection without a
// readable peer certificate is refused (nodejs/node#35317).
import t, { type Test } from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import tls from 'node:tls';
import { resolveConfig } from '../../src/config/index.js';
import { makePki } from '../helpers/pki.js';
import { attempt, haveOpenssl, rawConfig, sample, startProxy, startUpstream, type ClientCert, type ProxyOptions } from './hostile-harness.js';
import { spawn } from 'node:child_process';
import { skipUnlessInstalled } from '../helpers/tools.js';

// The openssl oracle checks below run where openssl is; CI (ZTPROXY_REQUIRE_TOOLS=1) requires it.
const noOpenssl = skipUnlessInstalled(haveOpenssl, 'openssl');
if (noOpenssl) t.comment(`${noOpenssl}: the openssl oracle checks are left out`);

interface Outcome {
  reused: boolean;
  session: Buffer | undefined;
  /** Status line of the answer, '' when refused. */
  status: string;
}

/** One connection with a Node client pinned to `version`, offering `session` when given. */
function connect(port: number, ca: Buffer, c: ClientCert, version: tls.SecureVersion, session?: Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    let got: Buffer | undefined;
    let reused = false;
    let data = '';
    const s = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost', cert: readFileSync(c.cert), key: readFileSync(c.key), minVersion: version, maxVersion: version, ...(session ? { session } : {}) });
    s.on('session', (b: Buffer) => (got = b));
    s.on('secureConnect', () => {
      reused = s.isSessionReused();
      s.write('GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n');
    });
    s.setEncoding('latin1');
    s.on('data', (d: string) => (data += d));
    s.on('error', () => {});
    s.on('close', () => resolve({ reused, session: got, status: data.split('\r\n')[0] ?? '' }));
  });
}

/** `openssl s_client` twice: -sess_out then -sess_in; returns both outputs. Async: the proxy runs in this process. */
async function opensslResume(dir: string, port: number, ca: string, c: ClientCert, flags: string[]): Promise<{ first: string; second: string }> {
  const sess = join(dir, `sess-${flags.join('')}.pem`);
  const base = ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-CAfile', ca, '-cert', c.cert, '-key', c.key, '-ign_eof', ...flags];
  const input = 'GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n';
  const run = (extra: string[]) =>
    new Promise<string>((resolve) => {
      const child = spawn('openssl', [...base, ...extra], { timeout: 20_000 });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString('latin1')));
      child.stderr.on('data', (d: Buffer) => (out += d.toString('latin1')));
      child.on('close', () => resolve(out));
      child.stdin.end(input);
    });
  const first = await run(['-sess_out', sess]);
  return { first, second: await run(['-sess_in', sess]) };
}

const CASES = [
  { name: 'TLS 1.2 session id', version: 'TLSv1.2' as const, openssl: ['-tls1_2', '-no_ticket'] },
  { name: 'TLS 1.2 ticket', version: 'TLSv1.2' as const, openssl: ['-tls1_2'] },
  { name: 'TLS 1.3 PSK ticket', version: 'TLSv1.3' as const, openssl: ['-tls1_3'] },
];

t.test('default config: no form of resumption happens, every connection is fully verified', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const up = await startUpstream(t);
  const alice = await pki.client('alice');
  const p = await startProxy(t, { pki, upstream: up });
  for (const c of CASES) {
    const first = await connect(p.port, p.ca, alice, c.version);
    t.match(first.status, /^HTTP\/1\.1 200/, `${c.name}: first connection served`);
    t.ok(first.session, `${c.name}: the client got a session to offer`);
    const second = await connect(p.port, p.ca, alice, c.version, first.session);
    t.equal(second.reused, false, `${c.name}: offered session not resumed (Node client)`);
    t.match(second.status, /^HTTP\/1\.1 200/, `${c.name}: served after a full handshake`);
  }
  t.equal(up.seen.length, 6);
  t.ok(up.seen.every((r) => r.headers['x-client-subject-dn'] === 'CN=alice'), 'every request carried the identity');
  if (!haveOpenssl) return;
  for (const c of CASES) {
    const o = await opensslResume(dir, p.port, pki.caCert, alice, c.openssl);
    t.match(o.first, /^New, TLSv1\.[23]/m, `${c.name}: openssl first handshake is new`);
    t.notMatch(o.second, /^Reused, /m, `${c.name}: openssl -sess_in is not resumed`);
    t.match(o.second, /^New, TLSv1\.[23]/m, `${c.name}: openssl -sess_in makes a full handshake`);
    t.match(o.second, /HTTP\/1\.1 200/, `${c.name}: and is served`);
  }
});

t.test('a client without a certificate (no readable peer certificate) is refused and counted', async (t) => {
  const pki = await makePki(t.testdir());
  const up = await startUpstream(t);
  const p = await startProxy(t, { pki, upstream: up });
  t.equal(await attempt(p.port, p.ca, null), 'refused');
  t.equal(await sample(p.registry, 'ztproxy_tls_handshakes_total', { result: 'failed', reason: 'no_certificate' }), 1);
  t.equal(up.seen.length, 0, 'upstream never reached');
});

async function resumptionReload(t: Test, change: 'crl' | 'ca', keepTicketKeys = false): Promise<void> {
  const dir = t.testdir();
  const pki = await makePki(join(dir, 'pki'));
  const other = await makePki(join(dir, 'other'), { name: 'Other CA' });
  const up = await startUpstream(t);
  const alice = await pki.client('alice');
  const ticketKeys = keepTicketKeys ? randomBytes(48) : undefined;
  const opts: ProxyOptions = { pki, upstream: up, tls: { sessionResumption: true }, crl: true, ...(ticketKeys ? { ticketKeys } : {}) };
  const p = await startProxy(t, opts);
  const sessions: Partial<Record<tls.SecureVersion, Buffer>> = {};
  for (const v of ['TLSv1.2', 'TLSv1.3'] as const) {
    const first = await connect(p.port, p.ca, alice, v);
    t.match(first.status, /^HTTP\/1\.1 200/, `${v}: served`);
    const again = await connect(p.port, p.ca, alice, v, first.session);
    t.equal(again.reused, true, `${v}: with sessionResumption the session resumes`);
    t.match(again.status, /^HTTP\/1\.1 200/, `${v}: resumed connection served`);
    sessions[v] = again.session ?? first.session;
  }
  t.equal(up.seen.length, 4);
  t.ok(up.seen.every((r) => r.headers['x-client-subject-dn'] === 'CN=alice'), 'resumed connections carry the same verified identity');
  let reason: string;
  if (change === 'crl') {
    await pki.revoke(alice.serial);
    await p.server.reload(async () => resolveConfig(rawConfig(opts)), ticketKeys);
    reason = 'revoked';
  } else {
    const bundle = join(dir, 'other-ca.crt');
    writeFileSync(bundle, readFileSync(other.caCert));
    await p.server.reload(async () => resolveConfig(rawConfig({ ...opts, clientCA: bundle, crl: false })), ticketKeys);
    reason = 'unknown_ca';
  }
  for (const v of ['TLSv1.2', 'TLSv1.3'] as const) {
    const after = await connect(p.port, p.ca, alice, v, sessions[v]);
    t.equal(after.reused, false, `${v}: old session not resumed after the ${change} change`);
    t.equal(after.status, '', `${v}: connection refused`);
  }
  t.equal(up.seen.length, 4, 'nothing more reached the upstream');
  t.equal(await sample(p.registry, 'ztproxy_tls_handshakes_total', { result: 'failed', reason }), 2, `counted as ${reason}`);
}

t.test('sessionResumption: true — a revoked client cannot resume after a CRL reload', (t) => resumptionReload(t, 'crl'));
t.test('sessionResumption: true — a no-longer-trusted CA cannot resume after a CA change', (t) => resumptionReload(t, 'ca'));
t.test('sessionResumption: true, ticket keys kept across the reload (as a cluster shares them) — revoked client still cannot resume', (t) => resumptionReload(t, 'crl', true));
