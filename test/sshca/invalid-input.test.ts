// Bad input is refused with a documented code and leaves every file as it was.
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initSshCA, signSshKey, revokeSshKey, listSshCertificates, type CaKeyType } from '../../src/sshca/index.js';
import { publicKeyBlob } from '../../src/sshca/public-key.js';
import { WireWriter } from '../../src/sshca/wire-writer.js';

/** Every file under `dir` with its content, so "wrote nothing" is one t.same. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const p = join(dir, name);
    out[name] = statSync(p).isDirectory() ? '<dir>' : readFileSync(p).toString('base64');
  }
  return out;
}

const line = (blob: Buffer, type?: string): string => `${type ?? blob.subarray(4, 4 + blob.readUInt32BE(0)).toString()} ${blob.toString('base64')} x@test\n`;
const ed = publicKeyBlob(generateKeyPairSync('ed25519').publicKey);
const ec = publicKeyBlob(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
const rsa1024 = publicKeyBlob(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey);
const offCurve = Buffer.from(ec);
offCurve[offCurve.length - 1]! ^= 1; // flip a bit of y: the point leaves the curve

const BAD_KEYS: Record<string, string> = {
  'empty file': '',
  'not a key line': 'hello world\n',
  'bad base64': 'ssh-ed25519 !!!notbase64 x\n',
  'unknown type': line(new WireWriter().string('ssh-dss').string(Buffer.alloc(20)).toBuffer()),
  'security key type': line(new WireWriter().string('sk-ssh-ed25519@openssh.com').string(Buffer.alloc(32)).string('ssh:').toBuffer()),
  'type mismatch': line(ed, 'ssh-rsa'),
  'truncated ed25519': line(new WireWriter().string('ssh-ed25519').string(Buffer.alloc(31)).toBuffer()),
  'trailing bytes': line(Buffer.concat([ed, Buffer.from([0, 0, 0, 0])])),
  'length past end': line(ed.subarray(0, ed.length - 1)),
  'ecdsa point off curve': line(offCurve),
  'ecdsa curve name mismatch': line(new WireWriter().string('ecdsa-sha2-nistp256').string('nistp384').string(Buffer.alloc(65, 4)).toBuffer()),
  'rsa 1024 bits': line(rsa1024),
  'two keys': line(ed) + line(ec),
  'certificate': `ssh-ed25519-cert-v01@openssh.com ${ed.toString('base64')}\n`,
  'private key': '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n',
};

t.test('sign refuses bad input and writes nothing', async (t) => {
  const dir = t.testdir({ 'good.pub': line(ed) });
  const ca = join(dir, 'ca');
  await initSshCA({ dir: ca });
  const good = { dir: ca, keyPath: join(dir, 'good.pub'), identity: 'alice', principals: 'root' };
  const before = snapshot(dir);

  for (const [name, text] of Object.entries(BAD_KEYS)) {
    writeFileSync(join(dir, 'bad.pub'), text);
    await t.rejects(signSshKey({ ...good, keyPath: join(dir, 'bad.pub') }), { code: 'ZTP_SSHCA_INVALID_KEY' }, name);
  }
  const cases: [string, Partial<Parameters<typeof signSshKey>[0]>, string][] = [
    ['empty principals', { principals: '' }, 'ZTP_SSHCA_INVALID_INPUT'],
    ['empty principal list', { principals: [] }, 'ZTP_SSHCA_INVALID_INPUT'],
    ['only commas', { principals: ',' }, 'ZTP_SSHCA_INVALID_INPUT'],
    ['empty entry', { principals: 'root,,dev' }, 'ZTP_SSHCA_INVALID_INPUT'],
    ['space in principal', { principals: ['ro ot'] }, 'ZTP_SSHCA_INVALID_INPUT'],
    ['control char in principal', { principals: 'root\u0007' }, 'ZTP_SSHCA_INVALID_INPUT'],
    ['empty identity', { identity: '' }, 'ZTP_SSHCA_INVALID_INPUT'],
    ['newline in identity', { identity: 'alice\nAccepted publickey for root' }, 'ZTP_SSHCA_INVALID_INPUT'],
    ['escape in identity', { identity: 'alice\u001b[2J' }, 'ZTP_SSHCA_INVALID_INPUT'],
    ['C1 control in identity', { identity: 'alice\u0085' }, 'ZTP_SSHCA_INVALID_INPUT'],
    ['overlong identity', { identity: 'a'.repeat(300) }, 'ZTP_SSHCA_INVALID_INPUT'],
    ['ttl unit', { ttl: '8x' }, 'ZTP_DURATION'],
    ['ttl zero', { ttl: '0h' }, 'ZTP_DURATION'],
    ['ttl negative', { ttl: '-1h' }, 'ZTP_DURATION'],
    ['ttl empty', { ttl: '' }, 'ZTP_DURATION'],
    ['window inverted', { validAfter: new Date(), validBefore: new Date(Date.now() - 1000) }, 'ZTP_SSHCA_INVALID_INPUT'],
    ['invalid date', { validBefore: new Date('nope') }, 'ZTP_SSHCA_INVALID_INPUT'],
    ['missing key file', { keyPath: join(dir, 'missing.pub') }, 'ZTP_SSHCA_INVALID_INPUT'],
    ['no CA', { dir: join(dir, 'nowhere') }, 'ZTP_SSHCA_NOT_FOUND'],
  ];
  for (const [name, patch, code] of cases) {
    await t.rejects(signSshKey({ ...good, ...patch }), { code }, name);
  }
  const after = snapshot(dir);
  delete after['bad.pub'];
  t.same(after, before, 'no file was created or changed');
  t.same(await listSshCertificates({ dir: ca }), [], 'no serial was used');
});

t.test('init refuses to overwrite and refuses unknown key types', async (t) => {
  const dir = t.testdir({ partial: { user_ca: 'keep me' } });
  await t.rejects(initSshCA({ dir: join(dir, 'x'), keyType: 'dsa' as CaKeyType }), { code: 'ZTP_SSHCA_INVALID_INPUT' });
  t.same(snapshot(dir), { partial: '<dir>', 'partial/user_ca': Buffer.from('keep me').toString('base64') }, 'nothing created');
  await t.rejects(initSshCA({ dir: join(dir, 'partial') }), { code: 'ZTP_SSHCA_EXISTS' }, 'a stray user_ca is never overwritten');
  await initSshCA({ dir: join(dir, 'ca') });
  const before = snapshot(dir);
  for (const keyType of ['ed25519', 'rsa-3072'] as const) {
    await t.rejects(initSshCA({ dir: join(dir, 'ca'), keyType }), { code: 'ZTP_SSHCA_EXISTS' });
  }
  t.same(snapshot(dir), before, 'existing CA untouched');
});

t.test('revoke and list refuse bad input and write nothing', async (t) => {
  const dir = t.testdir({ 'good.pub': line(ed), 'bad.pub': line(offCurve) });
  const ca = join(dir, 'ca');
  await initSshCA({ dir: ca });
  await signSshKey({ dir: ca, keyPath: join(dir, 'good.pub'), identity: 'alice', principals: 'root' });
  const before = snapshot(dir);
  const cases: [string, Parameters<typeof revokeSshKey>[0], string][] = [
    ['neither key nor serial', { dir: ca }, 'ZTP_SSHCA_INVALID_INPUT'],
    ['both key and serial', { dir: ca, serial: 1, keyPath: join(dir, 'good.pub') }, 'ZTP_SSHCA_INVALID_INPUT'],
    ['serial zero', { dir: ca, serial: 0 }, 'ZTP_SSHCA_INVALID_INPUT'],
    ['negative serial', { dir: ca, serial: -1 }, 'ZTP_SSHCA_INVALID_INPUT'],
    ['fractional serial', { dir: ca, serial: 1.5 }, 'ZTP_SSHCA_INVALID_INPUT'],
    ['NaN serial', { dir: ca, serial: Number.NaN }, 'ZTP_SSHCA_INVALID_INPUT'],
    ['unknown serial', { dir: ca, serial: 2 }, 'ZTP_SSHCA_NO_SUCH_CERT'],
    ['malformed key', { dir: ca, keyPath: join(dir, 'bad.pub') }, 'ZTP_SSHCA_INVALID_KEY'],
    ['missing key file', { dir: ca, keyPath: join(dir, 'missing.pub') }, 'ZTP_SSHCA_INVALID_INPUT'],
    ['no CA', { dir: join(dir, 'nowhere'), serial: 1 }, 'ZTP_SSHCA_NOT_FOUND'],
  ];
  for (const [name, opts, code] of cases) await t.rejects(revokeSshKey(opts), { code }, name);
  await t.rejects(listSshCertificates({ dir: join(dir, 'nowhere') }), { code: 'ZTP_SSHCA_NOT_FOUND' });
  t.same(snapshot(dir), before, 'no file was created or changed');

  writeFileSync(join(ca, 'index.json'), '{"version": 2}');
  await t.rejects(listSshCertificates({ dir: ca }), { code: 'ZTP_SSHCA_STORE' }, 'corrupt index');
  writeFileSync(join(ca, 'index.json'), '{not json');
  await t.rejects(signSshKey({ dir: ca, keyPath: join(dir, 'good.pub'), identity: 'alice', principals: 'root' }), { code: 'ZTP_SSHCA_STORE' });
});
