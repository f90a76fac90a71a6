// The newcomer path: `ztproxy serve --dev` makes certs-dev/ when missing,
// starts the echo upstream, and the curl line it prints shows the caller's
// own DN coming back; without a certificate curl is refused.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { startServe, until } from '../helpers/cli.js';

t.test('serve --dev', async (t) => {
  const dir = t.testdir();
  const cwd = process.cwd();
  process.chdir(dir);
  t.teardown(() => process.chdir(cwd));
  const p = await startServe(t, ['--dev', '--listen', '127.0.0.1:0', '--metrics-listen', 'off']);
  const line = await until(() => /^ {2}(curl .*)$/m.exec(p.output())?.[1], 'the curl line');
  for (const f of ['ca/ca.crt', 'ca/ca.key', 'localhost.crt', 'localhost.key', 'alice.crt', 'alice.key', 'alice.p12']) t.ok(existsSync(join(dir, 'certs-dev', f)), f);
  t.equal(statSync(join(dir, 'certs-dev/alice.key')).mode & 0o777, 0o600, 'keys are 0600');
  t.equal(statSync(join(dir, 'certs-dev/ca/ca.key')).mode & 0o777, 0o600);
  const args = line.split(' ').slice(1);
  const out = execFileSync('curl', ['-sS', '--max-time', '20', ...args], { cwd: dir, encoding: 'utf8' });
  const echoed = JSON.parse(out) as { headers: Record<string, string> };
  t.equal(echoed.headers['x-client-subject-dn'], 'CN=alice,OU=dev,O=ztproxy dev', 'the DN comes back');
  const noCert = spawnSync('curl', ['-sS', '--max-time', '20', ...args.filter((a, i) => !['--cert', '--key'].includes(a) && !['--cert', '--key'].includes(args[i - 1]!))], { cwd: dir, encoding: 'utf8' });
  t.not(noCert.status, 0, 'without a certificate curl fails');
  t.equal(noCert.stdout, '', 'and gets no HTTP answer');
  p.child.kill('SIGINT');
  t.equal(await p.exited, 0, 'Ctrl-C drains and exits 0');
});
