// A real sshd trusts the CA (TrustedUserCAKeys, RevokedKeys,
// AuthorizedPrincipalsFile) and the real ssh client logs in with keys signed
// by src/sshca. Every refusal is paired with a login that works on the same
// server, so a refusal cannot come from a broken setup.
import t, { type Test } from 'tap';
import { spawn, execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { initSshCA, signSshKey, revokeSshKey } from '../../src/sshca/index.js';
import { newKey, noSshd } from './ssh-tools.js';

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

interface Sshd {
  port: number;
  /** Everything sshd logged so far (-e: to stderr). */
  log: () => string;
}

async function startSshd(t: Test, dir: string, ca: string): Promise<Sshd> {
  const hostKey = newKey(dir, 'ssh_host_ed25519_key');
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege-separation chroot
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const config = join(dir, 'sshd_config');
    writeFileSync(config, [
      `ListenAddress 127.0.0.1:${port}`,
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'UsePAM no',
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'AuthenticationMethods publickey',
      'AuthorizedKeysFile none',
      `TrustedUserCAKeys ${join(ca, 'user_ca.pub')}`,
      `RevokedKeys ${join(ca, 'revoked_keys')}`,
      `AuthorizedPrincipalsFile ${join(dir, 'principals', '%u')}`,
      'LogLevel VERBOSE',
      '',
    ].join('\n'));
    const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    t.teardown(async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    });
    const ready = await new Promise<boolean>((resolve) => {
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (d: string) => {
        log += d;
        if (/Server listening on 127\.0\.0\.1 port/.test(log)) resolve(true);
      });
      child.once('exit', () => resolve(false));
      child.once('error', () => resolve(false));
    });
    if (ready) return { port, log: () => log };
    // Another process may have taken the port between freePort and bind.
    if (attempt >= 2 || !/Address already in use/.test(log)) throw new Error(`sshd did not start: ${log}`);
  }
}

function ssh(port: number, key: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const args = [
    '-F', '/dev/null', '-p', String(port), '-i', key,
    '-o', `CertificateFile=${key}-cert.pub`,
    '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR',
    '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-o', 'ConnectTimeout=10',
    'root@127.0.0.1', 'echo hi',
  ];
  return new Promise((resolve) => {
    execFile('ssh', args, { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

t.test('sshd with the ztproxy SSH CA', { skip: noSshd }, async (t) => {
  // root may log in with a certificate that names the principal "root-access".
  const dir = t.testdir({ principals: { root: 'root-access\n' } });
  const ca = join(dir, 'ca');
  await initSshCA({ dir: ca });
  const sshd = await startSshd(t, dir, ca);
  const sign = (key: string, extra: Partial<Parameters<typeof signSshKey>[0]> = {}) =>
    signSshKey({ dir: ca, keyPath: `${key}.pub`, identity: `${key.split('/').pop()}@test`, principals: 'root-access,dev', ttl: '8h', ...extra });
  const loginLog = async (key: string) => {
    const before = sshd.log().length;
    const r = await ssh(sshd.port, key);
    // sshd logs the outcome before the client sees it; give the pipe a moment to deliver.
    await new Promise((resolve) => setTimeout(resolve, 100));
    return { ...r, log: sshd.log().slice(before) };
  };

  await t.test('a signed key logs in and runs a command', async (t) => {
    const key = newKey(dir, 'alice');
    const cert = await sign(key);
    const r = await loginLog(key);
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, 'hi\n');
    t.match(r.log, `Accepted certificate ID "alice@test" (serial ${cert.serial})`);
  });

  await t.test('a certificate without the needed principal is refused', async (t) => {
    const key = newKey(dir, 'bob', 'ecdsa');
    await sign(key, { principals: 'dev,ops' });
    const r = await loginLog(key);
    t.equal(r.code, 255, 'ssh fails');
    t.equal(r.stdout, '');
    t.notMatch(r.log, /Accepted publickey/);
  });

  await t.test('an expired certificate is refused', async (t) => {
    const key = newKey(dir, 'carol');
    const now = Date.now();
    await sign(key, { validAfter: new Date(now - 2 * 3600_000), validBefore: new Date(now - 3600_000) });
    const r = await loginLog(key);
    t.equal(r.code, 255, 'ssh fails');
    t.match(r.log, /expired/i);
    t.notMatch(r.log, /Accepted publickey/);
  });

  await t.test('a certificate revoked by serial is refused', async (t) => {
    const key = newKey(dir, 'dave', 'rsa');
    const cert = await sign(key);
    t.equal((await loginLog(key)).code, 0, 'logs in before revocation');
    await revokeSshKey({ dir: ca, serial: cert.serial });
    const r = await loginLog(key);
    t.equal(r.code, 255, 'ssh fails after revocation');
    t.match(r.log, /revoked by file/);
  });

  await t.test('a revoked key is refused, with any certificate', async (t) => {
    const key = newKey(dir, 'erin');
    await sign(key);
    t.equal((await loginLog(key)).code, 0, 'logs in before revocation');
    await revokeSshKey({ dir: ca, keyPath: `${key}.pub` });
    const r = await loginLog(key);
    t.equal(r.code, 255, 'ssh fails after revocation');
    t.match(r.log, /revoked by file/);
    await t.rejects(sign(key), { code: 'ZTP_SSHCA_INVALID_KEY' }, 'and the CA will not sign it again');
  });
});
