// A file ztproxy cannot write is reported with a code and the file's name, at the library boundary
// (writeFileAtomic: ZTP_IO naming the target, not its temp file) and at the CLI's last boundary (main.ts:
// any Node system error that escaped a command becomes ZTP_IO, anything else ZTP_INTERNAL).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { asZtpError, isZtpError, writeFileAtomic, ZtpError } from '../../src/util/index.js';

const dir = mkdtempSync(join(tmpdir(), 'ztp-io-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const aFile = join(dir, 'a-file');
writeFileSync(aFile, 'not a directory');

t.test('writeFileAtomic: ZTP_IO naming the file it was asked to write; nothing left behind', async (t) => {
  const target = join(dir, 'missing-dir', 'ca.key');
  const err = await writeFileAtomic(target, 'x').then(() => null, (e: unknown) => e);
  t.ok(isZtpError(err, 'ZTP_IO'), 'ZTP_IO');
  t.match((err as Error).message, `cannot write ${target}`);
  t.equal(((err as Error).cause as NodeJS.ErrnoException).code, 'ENOENT', 'the system error is the cause');
  t.same(readdirSync(dir), ['a-file'], 'no temp file');
});

t.test('asZtpError: system errors become ZTP_IO with their path, the rest ZTP_INTERNAL, ZtpErrors pass', async (t) => {
  const sys = Object.assign(new Error('ENOTDIR: not a directory'), { code: 'ENOTDIR', syscall: 'mkdir', path: '/x/y' });
  t.match(asZtpError(sys), { code: 'ZTP_IO', message: '/x/y: mkdir failed' });
  t.equal(asZtpError(new TypeError('boom')).code, 'ZTP_INTERNAL');
  const own = new ZtpError('ZTP_CA_TTL', 'ttl');
  t.equal(asZtpError(own), own);
});

t.test('the CLI: a store under a regular file is exit 1 naming the path, one line', async (t) => {
  const main = join(import.meta.dirname, '../../dist/main.js');
  const store = join(aFile, 'ca');
  const r = spawnSync(process.execPath, [main, 'ca', 'init', '--dir', store, '--name', 'Test CA'], { encoding: 'utf8', timeout: 60_000 });
  t.equal(r.status, 1, r.stderr);
  t.match(r.stderr, /^error: .*a-file.*ENOTDIR/, 'names the path and the system error');
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
});
