/**
 * A CA store whose ca.crt or chain.crt is garbage: `ztproxy ca issue-client`
 * (node dist/main.js, as users run it) names the file and exits 3
 * (ZTP_CA_STORE), where x509's "Unsupported format of 'raw' argument" used
 * to escape with exit 1 and no file named. Nothing is issued.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { issueClient } from '../../src/ca/index.js';

const MAIN = resolve(import.meta.dirname, '../../dist/main.js');

function ztp(args: string[]): { code: number; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' }, timeout: 60_000 });
  return { code: r.status ?? -1, stderr: r.stderr };
}

t.test('a garbage CA store file is ZTP_CA_STORE naming it', { skip: existsSync(MAIN) ? false : 'dist/main.js missing: run npm run build' }, async (t) => {
  const dir = t.testdir();
  for (const file of ['ca.crt', 'chain.crt']) {
    t.test(file, async (t) => {
      const ca = join(dir, file.replace('.', '-'));
      t.equal(ztp(['ca', 'init', '--dir', ca, '--name', 'Corrupt Test CA']).code, 0, 'ca init');
      writeFileSync(join(ca, file), 'this is not a certificate\n');
      const index = readFileSync(join(ca, 'index.json'), 'utf8');
      const out = join(dir, `${file}-out`);

      const r = ztp(['ca', 'issue-client', '--dir', ca, '--cn', 'alice', '--out-dir', out]);
      t.equal(r.code, 3, 'exit 3: invalid material, not a runtime failure');
      t.match(r.stderr, new RegExp(`^error: corrupt CA store file ${join(ca, file).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*\n$`), 'one line naming the file');
      t.notOk(existsSync(join(out, 'alice.crt')), 'nothing issued');
      t.equal(readFileSync(join(ca, 'index.json'), 'utf8'), index, 'index unchanged');

      await t.rejects(issueClient({ dir: ca, cn: 'alice', outDir: out }), { code: 'ZTP_CA_STORE' });
    });
  }
});
