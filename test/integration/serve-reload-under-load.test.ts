// Reload under load: keep-alive and new-connection requests with client
// certificates run while the server certificate is swapped and SIGHUP sent
// several times: zero failed requests, and afterwards new handshakes see the
// new certificate. A broken config on reload keeps the old one serving and
// is counted.
import { readFileSync, writeFileSync, renameSync, copyFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import tls from 'node:tls';
import t from 'tap';
import { issueServer } from '../../src/ca/index.js';
import { makePki } from '../helpers/pki.js';
import { startUpstream } from '../helpers/proxy.js';
import { scrape, startServe, until } from '../helpers/cli.js';

function peerSerial(port: number, ca: Buffer, cert: Buffer, key: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca, cert, key }, () => {
      resolve(s.getPeerCertificate().serialNumber.toUpperCase());
      s.end();
    });
    s.on('error', reject);
  });
}

t.test('certificate swaps and SIGHUPs under load lose no request', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const alice = await pki.client('alice');
  const up = await startUpstream(t);
  const certPath = join(dir, 'live.crt');
  const keyPath = join(dir, 'live.key');
  copyFileSync(pki.server.cert, certPath);
  copyFileSync(pki.server.key, keyPath);
  const config = join(dir, 'ztproxy.yaml');
  writeFileSync(config, `listen: 127.0.0.1:0\nworkers: 1\ntls:\n  cert: ${certPath}\n  key: ${keyPath}\n  clientCA: ${pki.caCert}\nroutes:\n  - name: api\n    upstream: ${up.url}\nmetrics:\n  listen: 127.0.0.1:0\nlog:\n  access: false\n`);
  const p = await startServe(t, ['--config', config]);
  const ca = readFileSync(pki.caCert);
  const cert = readFileSync(alice.cert);
  const key = readFileSync(alice.key);
  const keepAlive = new https.Agent({ keepAlive: true, maxSockets: 4, ca, cert, key });
  t.teardown(() => keepAlive.destroy());

  let ok = 0;
  let failed = 0;
  const errors: string[] = [];
  const one = (agent: https.Agent | false) =>
    new Promise<void>((resolve) => {
      const req = https.request({ host: '127.0.0.1', servername: 'localhost', port: p.port, path: '/load', ca, cert, key, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) ok++;
          else {
            failed++;
            errors.push(`status ${res.statusCode}`);
          }
          resolve();
        });
      });
      req.on('error', (e) => {
        failed++;
        errors.push(e.message);
        resolve();
      });
      req.end();
    });
  const worker = async (agent: https.Agent | false, n: number) => {
    for (let i = 0; i < n; i++) await one(agent);
  };
  const load = Promise.all([worker(keepAlive, 150), worker(keepAlive, 150), worker(keepAlive, 150), worker(false, 60), worker(false, 60)]);

  let lastSerial = '';
  for (let i = 0; i < 4; i++) {
    await new Promise((r) => setTimeout(r, 150));
    const fresh = await issueServer({ dir: pki.caDir, dns: ['localhost'], ip: ['127.0.0.1'], outDir: join(dir, `swap${i}`), ttlSeconds: 86400 });
    // Replace key and certificate the way renewal tools do: write aside, then rename over.
    copyFileSync(fresh.keyPath, `${keyPath}.new`);
    copyFileSync(fresh.certPath, `${certPath}.new`);
    renameSync(`${keyPath}.new`, keyPath);
    renameSync(`${certPath}.new`, certPath);
    p.child.kill('SIGHUP');
    lastSerial = fresh.serial.toUpperCase();
  }
  await load;
  t.equal(failed, 0, `no failed request (${errors.slice(0, 3).join('; ')})`);
  t.equal(ok, 570, 'every request answered 200');
  const seen = await until(async () => ((await peerSerial(p.port, ca, cert, key)) === lastSerial ? lastSerial : ''), 'the new certificate', 100);
  t.equal(seen, lastSerial, 'new handshakes get the last certificate');
  t.ok((await scrape(p.metricsPort!, 'ztproxy_config_reloads_total', { result: 'ok' })) >= 1, 'reloads counted');
  p.child.kill('SIGTERM');
  t.equal(await p.exited, 0);
});

t.test('a broken config on reload keeps the old one serving and is counted', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const alice = await pki.client('alice');
  const up = await startUpstream(t);
  const config = join(dir, 'ztproxy.yaml');
  const good = `listen: 127.0.0.1:0\nworkers: 1\ntls:\n  cert: ${pki.server.cert}\n  key: ${pki.server.key}\n  clientCA: ${pki.caCert}\nroutes:\n  - name: api\n    upstream: ${up.url}\nmetrics:\n  listen: 127.0.0.1:0\n`;
  writeFileSync(config, good);
  const p = await startServe(t, ['--config', config]);
  const { request } = await import('../helpers/proxy.js');
  t.equal((await request(p.port, pki.caCert, alice)).status, 200);
  writeFileSync(config, good + 'routez: []\n');
  p.child.kill('SIGHUP');
  await until(async () => (await scrape(p.metricsPort!, 'ztproxy_config_reloads_total', { result: 'failed' })) >= 1, 'the failed reload to be counted');
  t.match(p.output(), /reload failed; old config keeps serving/);
  t.match(p.output(), /routez: unknown key/, 'the log says why');
  t.match(p.output(), /"code":"ZTP_RELOAD"/, 'with the documented code');
  t.equal((await request(p.port, pki.caCert, alice)).status, 200, 'the old config still serves');
  t.equal(up.requests.length, 2);
  p.child.kill('SIGTERM');
  t.equal(await p.exited, 0);
});
