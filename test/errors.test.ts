// Codes are the contract: every code in src/util/errors.ts is documented in
// docs/errors.md with its exit code, every documented code exists, and every
// registered code is raised somewhere in src (a code nothing throws is a
// promise to operators that nothing keeps).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { describeError, ERROR_CODES, isZtpError, ZtpError } from '../src/util/errors.js';

t.test('docs/errors.md and the registry agree', async (t) => {
  const doc = readFileSync(join(import.meta.dirname, '../docs/errors.md'), 'utf8');
  const documented = new Map([...doc.matchAll(/^\| `(ZTP_[A-Z0-9_]+)` \| (\d) \|/gm)].map((m) => [m[1]!, Number(m[2])]));
  for (const [code, exit] of Object.entries(ERROR_CODES)) t.equal(documented.get(code), exit, `${code} documented with exit ${exit}`);
  for (const code of documented.keys()) t.ok(code in ERROR_CODES, `${code} exists`);
});

t.test('every registered code is raised somewhere in src, and src raises no other', async (t) => {
  const src = join(import.meta.dirname, '../src');
  const raised = new Set<string>();
  for (const file of readdirSync(src, { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.ts') || file === join('util', 'errors.ts')) continue;
    // A code in a string literal is one the code passes around or throws; one in a comment (`ZTP_X` in TSDoc) is not.
    const text = readFileSync(join(src, file), 'utf8').replace(/\/\*[\s\S]*?\*\/|^\s*\/\/.*$/gm, '');
    for (const m of text.matchAll(/['"`](ZTP_[A-Z0-9_]+)['"`]/g)) raised.add(m[1]!);
  }
  for (const code of Object.keys(ERROR_CODES)) {
    t.ok(raised.has(code), `${code} is raised somewhere in src`);
  }
  for (const code of raised) t.ok(code in ERROR_CODES, `${code} (used in src) is registered`);
});

t.test('ZtpError carries code, exit code and cause', async (t) => {
  const cause = new Error('ENOENT: no such file');
  const err = new ZtpError('ZTP_TLS_MATERIAL', 'tls.cert: cannot read /x', { cause });
  t.equal(err.exitCode, 3);
  t.ok(isZtpError(err, 'ZTP_TLS_MATERIAL'));
  t.notOk(isZtpError(err, 'ZTP_USAGE'));
  t.equal(describeError(err), 'tls.cert: cannot read /x: ENOENT: no such file');
});
