import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateWgKeyPair, parseInventory, renderHosts, wgPublicKey, writeRendered } from '../../src/hosts/index.js';
import { skipUnlessInstalled } from '../helpers/tools.js';

const inventory = parseInventory(
  `hosts:
  - { name: app1, role: app, address: 10.100.0.3 }
  - { name: db1, role: db, address: 10.100.0.2 }
rules:
  - { from: app, to: db, port: 5432 }
  - { from: db, to: app, port: 9187 }
`,
  'keys.yaml',
);

const hasWg = (() => {
  try {
    execFileSync('wg', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

t.test('keys are generated once, 0600, and reused by later renders', async (t) => {
  const dir = t.testdir({});
  const keysDir = join(dir, 'keys');
  const first = await renderHosts(inventory, { keysDir });
  const keyFiles = readdirSync(keysDir).sort();
  t.same(keyFiles, ['app1.key', 'app1.pub', 'db1.key', 'db1.pub']);
  t.equal(statSync(join(keysDir, 'db1.key')).mode & 0o777, 0o600);
  t.equal(statSync(join(keysDir, 'db1.pub')).mode & 0o777, 0o644);
  const privateKey = readFileSync(join(keysDir, 'db1.key'), 'utf8').trim();
  t.match(first.get('db1/wg0.conf')!.content, `PrivateKey = ${privateKey}\n`);

  const second = await renderHosts(inventory, { keysDir });
  t.same([...second], [...first], 're-rendering gives identical files: no key rotation');
  t.equal(readFileSync(join(keysDir, 'db1.key'), 'utf8').trim(), privateKey);

  await writeRendered(join(dir, 'out'), second);
  t.equal(statSync(join(dir, 'out/db1/wg0.conf')).mode & 0o777, 0o600, 'wg0.conf holds a private key');
  t.equal(statSync(join(dir, 'out/db1/nftables.conf')).mode & 0o777, 0o644);
});

t.test('a supplied key (wg genkey output) is used, and peers get its public key', async (t) => {
  const keysDir = t.testdir({});
  const pair = generateWgKeyPair();
  writeFileSync(join(keysDir, 'db1.key'), `${pair.privateKey}\n`, { mode: 0o600 });
  const files = await renderHosts(inventory, { keysDir });
  t.match(files.get('db1/wg0.conf')!.content, `PrivateKey = ${pair.privateKey}\n`);
  t.match(files.get('app1/wg0.conf')!.content, `PublicKey = ${pair.publicKey}\n`);
});

t.test('a key file that is not a WireGuard key is ZTP_HOSTS_INVALID', async (t) => {
  const keysDir = t.testdir({ 'db1.key': 'not a key\n' });
  await t.rejects(renderHosts(inventory, { keysDir }), { code: 'ZTP_HOSTS_INVALID' });
});

t.test('public keys agree with `wg pubkey`', { skip: skipUnlessInstalled(hasWg, 'wg', 'wireguard-tools') }, async (t) => {
  for (let i = 0; i < 3; i++) {
    const pair = generateWgKeyPair();
    const fromWg = execFileSync('wg', ['pubkey'], { input: `${pair.privateKey}\n` }).toString().trim();
    t.equal(pair.publicKey, fromWg);
    t.equal(wgPublicKey(pair.privateKey), fromWg);
  }
  const genkey = execFileSync('wg', ['genkey']).toString().trim();
  t.equal(wgPublicKey(genkey), execFileSync('wg', ['pubkey'], { input: `${genkey}\n` }).toString().trim());
  t.equal(wgPublicKey('AAAA'), undefined);
});
