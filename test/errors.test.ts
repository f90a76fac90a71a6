// Codes are the contract: every code in src/errors.ts is documented in
// docs/errors.md with its exit code, and every documented code exists.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { describeError, ERROR_CODES, isZtpError, ZtpError } from '../src/errors.js';

t.test('docs/errors.md and the registry agree', async (t) => {
  const doc = readFileSync(join(import.meta.dirname, '../docs/errors.md'), 'utf8');
  const documented = new Map([...doc.matchAll(/^\| `(ZTP_[A-Z0-9_]+)` \| (\d) \|/gm)].map((m) => [m[1]!, Number(m[2])]));
  for (const [code, exit] of Object.entries(ERROR_CODES)) t.equal(documented.get(code), exit, `${code} documented with exit ${exit}`);
  for (const code of documented.keys()) t.ok(code in ERROR_CODES, `${code} exists`);
});

t.test('ZtpError carries code, exit code and cause', async (t) => {
  const cause = new Error('ENOENT: no such file');
  const err = new ZtpError('ZTP_TLS_MATERIAL', 'tls.cert: cannot read /x', { cause });
  t.equal(err.exitCode, 3);
  t.ok(isZtpError(err, 'ZTP_TLS_MATERIAL'));
  t.notOk(isZtpError(err, 'ZTP_USAGE'));
  t.equal(describeError(err), 'tls.cert: cannot read /x: ENOENT: no such file');
});
