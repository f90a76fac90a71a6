// `ztproxy ssh-ca ...` through the built CLI: output files, exit codes
// (0 ok, 2 usage, 3 invalid material) and one-line `error:` messages.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { publicKeyBlob } from '../../src/sshca/public-key.js';

const main = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

function ztproxy(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  // Without tap's NODE_OPTIONS: its TypeScript loader and coverage hooks would
  // make every start of the built CLI several times slower.
  const env = { ...process.env, NODE_OPTIONS: '' };
  const r = spawnSync(process.execPath, [main, 'ssh-ca', ...args], { encoding: 'utf8', env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

t.test('ssh-ca CLI', { skip: existsSync(main) ? false : 'dist/main.js missing: run npm run build' }, async (t) => {
  const blob = publicKeyBlob(generateKeyPairSync('ed25519').publicKey);
  const dir = t.testdir({
    'id_ed25519.pub': `ssh-ed25519 ${blob.toString('base64')} alice@laptop\n`,
    'bad.pub': `ssh-ed25519 ${blob.subarray(0, 20).toString('base64')}\n`,
  });
  const ca = join(dir, 'ca');
  const key = join(dir, 'id_ed25519.pub');
  const oneLineError = (stderr: string): boolean => /^error: [^\n]+\n/.test(stderr);

  let r = ztproxy('init', '--dir', ca);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, `TrustedUserCAKeys ${join(ca, 'user_ca.pub')}`);
  for (const f of ['user_ca', 'user_ca.pub', 'revoked_keys', 'index.json']) t.ok(existsSync(join(ca, f)), f);

  r = ztproxy('sign', '--dir', ca, '--key', key, '--identity', 'alice', '--principals', 'root,dev', '--ttl', '8h');
  t.equal(r.code, 0, r.stderr);
  t.ok(existsSync(join(dir, 'id_ed25519-cert.pub')), 'certificate beside the key');
  t.match(r.stdout, /serial 1\b/);

  // A few cases per exit-code path (each start of the CLI costs about a second);
  // the full matrix of refusals is in invalid-input.test.ts.
  const refused: [string[], number][] = [
    [['sign', '--dir', ca, '--key', join(dir, 'bad.pub'), '--identity', 'alice', '--principals', 'root'], 3],
    [['sign', '--dir', ca, '--key', key, '--identity', 'al\rice', '--principals', ''], 2],
    [['sign', '--dir', ca, '--key', key, '--identity', 'alice', '--principals', 'root', '--ttl', 'forever'], 2],
    [['sign', '--dir', ca, '--key', key, '--identity', 'alice', '--principals', 'root', '--bogus'], 2],
    [['revoke', '--dir', ca, '--serial', '99'], 3],
  ];
  for (const [args, code] of refused) {
    r = ztproxy(...args);
    t.equal(r.code, code, `${args.join(' ')} → exit ${code}`);
    t.ok(oneLineError(r.stderr), r.stderr);
  }

  r = ztproxy('revoke', '--dir', ca, '--serial', '1');
  t.equal(r.code, 0, r.stderr);
  r = ztproxy('list', '--dir', ca, '--json');
  t.equal(r.code, 0, r.stderr);
  const list = JSON.parse(r.stdout) as { serial: number; keyId: string; principals: string[]; status: string; fingerprint: string }[];
  t.same(list.map((c) => [c.serial, c.keyId, c.principals, c.status]), [[1, 'alice', ['root', 'dev'], 'revoked']], 'one certificate, refused signs used no serial');
  r = ztproxy('list', '--dir', ca);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, list[0]!.fingerprint);
});
