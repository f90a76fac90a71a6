// With tls.sessionResumption on and two workers, the shared ticket keys let
// a client resume on any worker, each resumed connection still carries the
// verified identity, and a reload (here: a revocation) starts new keys, so a
// revoked certificate cannot resume its way back in.
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import t from 'tap';
import { makePki } from '../helpers/pki.js';
import { startUpstream } from '../helpers/proxy.js';
import { scrape, startServe, until } from '../helpers/cli.js';

t.test('resumption across workers carries identity and ends with a revocation', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const alice = await pki.client('alice', { ou: ['dev'] });
  const up = await startUpstream(t);
  const config = join(dir, 'ztproxy.yaml');
  writeFileSync(
    config,
    `listen: 127.0.0.1:0\nworkers: 2\ntls:\n  cert: ${pki.server.cert}\n  key: ${pki.server.key}\n  clientCA: ${pki.caCert}\n  crl: ${pki.crl}\n  sessionResumption: true\n` +
      `routes:\n  - name: api\n    upstream: ${up.url}\nmetrics:\n  listen: 127.0.0.1:0\n`,
  );
  const p = await startServe(t, ['--config', config]);
  await until(() => (p.output().match(/"msg":"ztproxy listening"/g) ?? []).length >= 2, 'both workers listening', 600);
  const port = Number(/"listen":"127\.0\.0\.1:(\d+)"/.exec(p.output())![1]);
  const agent = new https.Agent({ keepAlive: false, ca: readFileSync(pki.caCert), cert: readFileSync(alice.cert), key: readFileSync(alice.key) });
  t.teardown(() => agent.destroy());
  // Resolves once the response ended and the TLS 1.3 ticket reached the agent's session cache (its
  // 'session' listener runs before ours), or the socket closed without one: the next connection
  // then offers it, with no sleep in between.
  const get = () =>
    new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
      let ticket: Promise<void> = Promise.resolve();
      https
        .get({ host: '127.0.0.1', servername: 'localhost', port, path: '/', agent }, (res) => {
          const reused = (res.socket as import('node:tls').TLSSocket).isSessionReused();
          res.resume();
          res.on('end', () => void ticket.then(() => resolve({ status: res.statusCode!, reused })));
        })
        .on('socket', (s) => {
          ticket = new Promise<void>((r) => {
            s.once('session', () => r());
            s.once('close', () => r());
          });
        })
        .on('error', reject);
    });

  const results = [];
  for (let i = 0; i < 8; i++) {
    results.push(await get());
  }
  t.ok(results.every((r) => r.status === 200), 'all served');
  const reused = results.filter((r) => r.reused).length;
  // The first connection is a full handshake; every later one resumes, whichever worker takes it: a worker
  // listens only once it holds the cluster's ticket keys (daemon/worker.ts).
  t.equal(reused, 7, `sessions resumed on both workers (${reused} of 8)`);
  t.equal(up.requests.length, 8);
  t.ok(up.requests.every((r) => r.headers['x-client-subject-dn'] === 'CN=alice,OU=dev'), 'every resumed connection carries the verified DN');
  const servedBy = new Set([...p.output().matchAll(/"pid":(\d+)[^\n]*"msg":"request completed"/g)].map((m) => m[1]));
  t.equal(servedBy.size, 2, 'both workers took part');

  await pki.revoke(alice.serial);
  p.child.kill('SIGHUP');
  await until(async () => (await scrape(p.metricsPort!, 'ztproxy_config_reloads_total', { result: 'ok' })) >= 2, 'both workers reloaded', 600);
  await t.rejects(get(), 'the revoked client cannot resume its way in');
  await t.rejects(get(), 'nor on the other worker');
  t.equal(up.requests.length, 8, 'nothing more reached the upstream');
  t.ok((await scrape(p.metricsPort!, 'ztproxy_tls_handshakes_total', { result: 'failed', reason: 'revoked' })) >= 1, 'counted as revoked');
  p.child.kill('SIGTERM');
  t.equal(await p.exited, 0);
});
