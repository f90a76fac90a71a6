/**
 * `ztproxy hosts render` as a process (dist/ is built by `npm test`'s pretest).
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
const example = fileURLToPath(new URL('../../config/hosts.example.yaml', import.meta.url));

function ztproxy(...args: string[]) {
  const r = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', timeout: 30000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

t.before(() => {
  if (!existsSync(main)) throw new Error('dist/main.js is missing: run `npm run build` first');
});

t.test('renders the example inventory, keys next to it by default, reused on re-render', async (t) => {
  const dir = t.testdir({});
  cpSync(example, join(dir, 'hosts.yaml'));
  const first = ztproxy('hosts', 'render', '--inventory', join(dir, 'hosts.yaml'), '--out-dir', join(dir, 'out'));
  t.equal(first.code, 0, first.stderr);
  t.match(first.stdout, /rendered \d+ files for 5 hosts/);
  for (const host of ['proxy1', 'db1', 'app1', 'app2', 'bastion1']) {
    for (const f of ['wg0.conf', 'nftables.conf', 'sshd_config.d/ztproxy.conf']) t.ok(existsSync(join(dir, 'out', host, f)), `${host}/${f}`);
    t.equal(statSync(join(dir, 'out', host, 'wg0.conf')).mode & 0o777, 0o600);
    t.equal(statSync(join(dir, 'wg-keys', `${host}.key`)).mode & 0o777, 0o600);
  }
  t.ok(existsSync(join(dir, 'out/proxy1/ztproxy.yaml')));
  t.notOk(existsSync(join(dir, 'out/db1/ztproxy.yaml')), 'only proxies get a ztproxy config');
  const wg = readFileSync(join(dir, 'out/db1/wg0.conf'), 'utf8');

  const again = ztproxy('hosts', 'render', '--inventory', join(dir, 'hosts.yaml'), '--out-dir', join(dir, 'out'), '--keys-dir', join(dir, 'wg-keys'));
  t.equal(again.code, 0, again.stderr);
  t.equal(readFileSync(join(dir, 'out/db1/wg0.conf'), 'utf8'), wg, 'same keys, same file');
});

t.test('an invalid inventory exits 3, names the host and field, and writes nothing', async (t) => {
  const dir = t.testdir({});
  const text = readFileSync(example, 'utf8').replace('address: 10.100.0.2/24', 'address: 10.200.0.2/24');
  writeFileSync(join(dir, 'hosts.yaml'), text);
  const r = ztproxy('hosts', 'render', '--inventory', join(dir, 'hosts.yaml'), '--out-dir', join(dir, 'out'), '--keys-dir', join(dir, 'keys'));
  t.equal(r.code, 3);
  t.match(r.stderr, /^error: inventory .* hosts\[1\]\.address \(host db1\): 10\.200\.0\.2 is outside/);
  t.notOk(existsSync(join(dir, 'out')), 'no output directory');
  t.notOk(existsSync(join(dir, 'keys')), 'no keys generated');
});

t.test('a missing inventory exits 3 (ZTP_HOSTS_READ); a missing flag is a usage error', async (t) => {
  const dir = t.testdir({});
  t.equal(ztproxy('hosts', 'render', '--inventory', join(dir, 'nope.yaml'), '--out-dir', join(dir, 'out')).code, 3);
  t.equal(ztproxy('hosts', 'render', '--out-dir', join(dir, 'out')).code, 2);
  t.equal(ztproxy('hosts').code, 2);
  t.notOk(existsSync(join(dir, 'out')));
});
