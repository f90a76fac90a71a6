// ssh-keygen is the oracle: it must read (and signature-check) every
// certificate, the CA key pair and the KRL that src/sshca writes natively.
import t from 'tap';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initSshCA, signSshKey, revokeSshKey, CA_KEY_TYPES } from '../../src/sshca/index.js';
import { newKey, noSshKeygen, readCert, sshKeygen } from './ssh-tools.js';

const HOUR = 3600;
const utc = (s: string): number => Date.parse(`${s}Z`) / 1000;
const SUBJECTS = [
  { type: 'ed25519', cert: 'ssh-ed25519-cert-v01@openssh.com' },
  { type: 'ecdsa', cert: 'ecdsa-sha2-nistp256-cert-v01@openssh.com' },
  { type: 'rsa', cert: 'ssh-rsa-cert-v01@openssh.com' },
] as const;

t.test('openssh oracle', { skip: noSshKeygen }, async (t) => {
  const dir = t.testdir();
  const subjects = SUBJECTS.map((s) => ({ ...s, key: newKey(dir, `id_${s.type}`, s.type) }));

  for (const keyType of CA_KEY_TYPES) {
    t.test(`CA key ${keyType}`, async (t) => {
      const ca = join(dir, `ca-${keyType}`);
      const init = await initSshCA({ dir: ca, keyType });
      t.equal(statSync(join(ca, 'user_ca')).mode & 0o777, 0o600, 'private key is 0600');
      const y = sshKeygen(['-y', '-f', join(ca, 'user_ca')]);
      t.equal(y.status, 0, y.stderr);
      const pub = readFileSync(join(ca, 'user_ca.pub'), 'utf8');
      t.equal(y.stdout.trim().split(' ').slice(0, 2).join(' '), pub.trim().split(' ').slice(0, 2).join(' '), 'ssh-keygen -y matches user_ca.pub');
      t.equal(sshKeygen(['-l', '-f', join(ca, 'user_ca.pub')]).stdout.split(' ')[1], init.fingerprint, 'fingerprint as ssh-keygen -l');

      const empty = sshKeygen(['-Q', '-f', join(ca, 'revoked_keys'), `${subjects[0]!.key}.pub`]);
      t.equal(empty.status, 0, `empty KRL revokes nothing: ${empty.stderr}`);

      for (const [i, s] of subjects.entries()) {
        const r = await signSshKey({ dir: ca, keyPath: `${s.key}.pub`, identity: `alice ${s.type}`, principals: 'root,dev', ttl: '8h' });
        t.equal(r.certificatePath, `${s.key}-cert.pub`, 'named as ssh-keygen names it');
        const c = readCert(r.certificatePath);
        t.equal(c.type, `${s.cert} user certificate`);
        t.equal(c.keyId, `alice ${s.type}`);
        t.equal(c.serial, i + 1, 'serials increase from 1');
        t.same(c.principals, ['root', 'dev']);
        t.equal(c.criticalOptions, '(none)');
        t.same(c.extensions, ['permit-X11-forwarding', 'permit-agent-forwarding', 'permit-port-forwarding', 'permit-pty', 'permit-user-rc']);
        t.equal(utc(c.to) - utc(c.from), 8 * HOUR + 300, '8 hours, plus 5 minutes back for clock skew');
        t.equal(utc(c.to), Date.parse(r.validBefore) / 1000, 'index records the same window');
        if (keyType === 'rsa-3072') t.match(c.signingCa, /using rsa-sha2-512/);
      }

      // Revoke the second certificate by serial, the third by key.
      await revokeSshKey({ dir: ca, serial: 2 });
      await revokeSshKey({ dir: ca, keyPath: `${subjects[2]!.key}.pub` });
      const q = (p: string): number | null => sshKeygen(['-Q', '-f', join(ca, 'revoked_keys'), p]).status;
      t.equal(q(`${subjects[0]!.key}-cert.pub`), 0, 'unrevoked certificate passes');
      t.equal(q(`${subjects[1]!.key}-cert.pub`), 1, 'certificate revoked by serial');
      t.equal(q(`${subjects[1]!.key}.pub`), 0, 'revoking a serial leaves the plain key alone');
      t.equal(q(`${subjects[2]!.key}-cert.pub`), 1, 'certificate of a revoked key');
      t.equal(q(`${subjects[2]!.key}.pub`), 1, 'revoked key');
      t.match(sshKeygen(['-Q', '-l', '-f', join(ca, 'revoked_keys')]).stdout, /KRL version 3/);
    });
  }

  t.test('a CA key made by ssh-keygen can be used in place of ours', async (t) => {
    for (const type of ['ed25519', 'ecdsa', 'rsa'] as const) {
      const ca = join(dir, `ca-byo-${type}`);
      await initSshCA({ dir: ca });
      const own = newKey(dir, `byo_ca_${type}`, type);
      writeFileSync(join(ca, 'user_ca'), readFileSync(own), { mode: 0o600 });
      writeFileSync(join(ca, 'user_ca.pub'), readFileSync(`${own}.pub`));
      const r = await signSshKey({ dir: ca, keyPath: `${subjects[0]!.key}.pub`, identity: 'byo', principals: 'root' });
      const fp = sshKeygen(['-l', '-f', `${own}.pub`]).stdout.split(' ')[1];
      t.match(readCert(r.certificatePath).signingCa, fp ?? 'missing', `signed by the ssh-keygen ${type} key`);
    }
  });

  t.test('host certificate', async (t) => {
    const ca = join(dir, 'ca-host');
    await initSshCA({ dir: ca });
    const host = newKey(dir, 'ssh_host_ed25519_key');
    await signSshKey({ dir: ca, keyPath: `${host}.pub`, identity: 'web1', principals: ['web1.internal', 'web1'], host: true, ttl: '30d' });
    const c = readCert(`${host}-cert.pub`);
    t.equal(c.type, 'ssh-ed25519-cert-v01@openssh.com host certificate');
    t.same(c.principals, ['web1.internal', 'web1']);
    t.same(c.extensions, [], 'host certificates carry no extensions');
    t.equal(utc(c.to) - utc(c.from), 30 * 86400 + 300);
  });

  t.test('key without .pub suffix: -cert.pub appended, comment kept', async (t) => {
    const ca = join(dir, 'ca-name');
    await initSshCA({ dir: ca });
    const key = newKey(dir, 'named');
    writeFileSync(join(dir, 'plainname'), readFileSync(`${key}.pub`));
    const r = await signSshKey({ dir: ca, keyPath: join(dir, 'plainname'), identity: 'bob', principals: 'bob' });
    t.equal(r.certificatePath, join(dir, 'plainname-cert.pub'));
    t.match(readFileSync(r.certificatePath, 'utf8'), / named@test\n$/);
    t.equal(statSync(r.certificatePath).mode & 0o777, 0o644);
  });
});
