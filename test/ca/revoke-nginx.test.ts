/**
 * Revocation end to end: the CRL lists the serial (openssl crl), openssl
 * verify -crl_check rejects it, and a real nginx with ssl_verify_client and
 * ssl_crl accepts the client certificate before and refuses it after.
 */
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { listCertificates, revoke, writeCrl } from '../../src/ca/index.js';
import { makePki } from '../helpers/pki.js';
import { skipUnlessInstalled } from '../helpers/tools.js';

const NGINX = '/usr/sbin/nginx';

function run(cmd: string, args: string[]): { code: number; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

t.test('revoke by serial and by CN: CRL, list and openssl verify agree', async (t) => {
  const pki = await makePki(t.testdir(), { intermediate: true });
  const a = await pki.client('carol');
  const b = await pki.client('dave');
  await revoke({ dir: pki.caDir, serial: a.serial.toUpperCase(), reason: 'keyCompromise' });
  const r2 = await revoke({ dir: pki.caDir, cn: 'dave' });
  t.same(r2.revoked.map((e) => e.serial), [b.serial]);
  await t.rejects(revoke({ dir: pki.caDir, serial: 'abcdef' }), { code: 'ZTP_CA_NO_SUCH_CERT' });
  await t.rejects(revoke({ dir: pki.caDir, cn: 'nobody' }), { code: 'ZTP_CA_NO_SUCH_CERT' });

  const crl = run('openssl', ['crl', '-in', pki.crl, '-noout', '-text']).out;
  t.match(crl, new RegExp(`Serial Number: ${a.serial}`, 'i'));
  t.match(crl, new RegExp(`Serial Number: ${b.serial}`, 'i'));
  t.match(crl, /Key Compromise/);
  const bundle = join(pki.caDir, 'chain.crt');
  const v = run('openssl', ['verify', '-CAfile', bundle, '-crl_check', '-CRLfile', pki.crl, a.cert]);
  t.not(v.code, 0);
  t.match(v.out, /certificate revoked/);
  const status = Object.fromEntries((await listCertificates({ dir: pki.caDir })).map((r) => [r.serial, r.status]));
  t.equal(status[a.serial], 'revoked');
  t.equal(status[pki.server.serial], 'valid');

  const res = await writeCrl({ dir: pki.caDir, nextUpdateSeconds: 3600 });
  t.match(run('openssl', ['crl', '-in', res.crlPath, '-noout', '-text']).out, /X509v3 CRL Number: \n\s+4/);
});

t.test('a real nginx accepts the client certificate, then refuses it once revoked', { skip: skipUnlessInstalled(existsSync(NGINX), 'nginx') }, async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const alice = await pki.client('alice', { ou: ['dev'] });
  const port = await freePort();
  const conf = (crl: string): string => `
worker_processes 1;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp; proxy_temp_path ${dir}/tmp; fastcgi_temp_path ${dir}/tmp; uwsgi_temp_path ${dir}/tmp; scgi_temp_path ${dir}/tmp;
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${pki.server.cert};
    ssl_certificate_key ${pki.server.key};
    ssl_client_certificate ${pki.caCert};
    ssl_verify_client on;
    ssl_crl ${crl};
    location / { return 200 "dn=$ssl_client_s_dn\\n"; }
  }
}
`;
  const start = async (): Promise<() => Promise<void>> => {
    writeFileSync(join(dir, 'nginx.conf'), conf(pki.crl));
    const child = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', `daemon off; pid ${dir}/nginx.pid; error_log stderr;`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += String(d)));
    const stop = async (): Promise<void> => {
      if (child.exitCode !== null) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await done;
    };
    t.teardown(stop);
    // ready when the port accepts connections (bounded)
    for (let i = 0; i < 100; i++) {
      if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
      const ok = await new Promise<boolean>((r) => {
        const s = createServer();
        s.once('error', () => r(true));
        s.listen(port, '127.0.0.1', () => s.close(() => r(false)));
      });
      if (ok) return stop;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`nginx did not start: ${stderr}`);
  };
  const curl = (): { code: number; out: string } =>
    run('curl', ['-sS', '--max-time', '10', '--cacert', pki.caCert, '--cert', alice.cert, '--key', alice.key, `https://localhost:${port}/`]);
  const curlP12 = (): { code: number; out: string } =>
    run('curl', ['-sS', '--max-time', '10', '--cacert', pki.caCert, '--cert-type', 'P12', '--cert', `${alice.p12}:${pki.p12Password}`, `https://localhost:${port}/`]);

  let stop = await start();
  let r = curl();
  t.equal(r.code, 0, r.out);
  t.equal(r.out, 'dn=CN=alice,OU=dev\n');
  r = curlP12();
  t.equal(r.code, 0, `p12: ${r.out}`);
  t.match(run('curl', ['-sS', '--max-time', '10', '--cacert', pki.caCert, `https://localhost:${port}/`]).out, /400 No required SSL certificate/);

  await pki.revoke(alice.serial);
  await stop();
  stop = await start();
  r = curl();
  t.match(r.out, /400 The SSL certificate error|certificate revoked/);
  t.notMatch(r.out, /dn=/);
  t.ok(readFileSync(pki.crl, 'utf8').includes('BEGIN X509 CRL'));
  await stop();
});
