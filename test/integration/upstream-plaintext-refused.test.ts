// Zero trust on the second hop: plain http:// to a non-loopback upstream is
// refused at config load (ZTP_CONFIG_INSECURE_UPSTREAM, exit 3, naming the
// route and the key path) unless the route sets upstream.insecurePlaintext or
// the quick-start flag --insecure-plaintext-upstream is given, which logs a
// warning at start. No packet leaves this machine: the loader is tested
// alone, and the CLI runs in a network namespace of its own that has only
// loopback (`unshare -rn`), skipped with the reason when that is unavailable.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { resolveConfig } from '../../src/config/index.js';
import { makePki } from '../helpers/pki.js';
import { runs, skipUnlessInstalled } from '../helpers/tools.js';

const root = new URL('../..', import.meta.url).pathname;
const main = join(root, 'dist/main.js');
const tls = { cert: '/c', key: '/k', clientCA: '/ca' };
const route = (upstream: unknown) => ({ tls, routes: [{ name: 'ok', upstream: 'http://127.0.0.1:1' }, { name: 'billing', upstream }] });

function problem(raw: unknown, overrides = {}): { code?: string; message?: string } | null {
  try {
    resolveConfig(raw, overrides);
    return null;
  } catch (err) {
    return err as { code?: string; message?: string };
  }
}

t.test('the loader refuses plaintext to anything but loopback', async (t) => {
  const refused: [unknown, RegExp][] = [
    ['http://10.100.0.3:8080', /routes\[1\]\.upstream: route "billing": plain http to non-loopback 10\.100\.0\.3:8080/],
    [{ url: 'http://app.internal:8080' }, /routes\[1\]\.upstream\.url: route "billing".*app\.internal/],
    [{ urls: ['http://127.0.0.1:8080', 'http://192.168.1.5:8080'] }, /routes\[1\]\.upstream\.urls\[1\]: route "billing".*192\.168\.1\.5/],
    ['http://0.0.0.0:8080', /non-loopback 0\.0\.0\.0/],
    ['http://[fe80::1]:8080', /non-loopback \[fe80::1\]/],
    ['http://[::ffff:127.0.0.1]:8080', /non-loopback/], // mapped addresses are not trusted as loopback
    ['http://localhost.example.com', /non-loopback localhost\.example\.com/],
    ['http://127.0.0.1.nip.io', /non-loopback 127\.0\.0\.1\.nip\.io/],
  ];
  for (const [upstream, message] of refused) {
    const p = problem(route(upstream));
    t.equal(p?.code, 'ZTP_CONFIG_INSECURE_UPSTREAM', `${JSON.stringify(upstream)}: refused`);
    t.match(p?.message, message, `${JSON.stringify(upstream)}: names the route and key path`);
    t.match(p?.message, /insecurePlaintext: true/, 'and says how to allow it');
  }
  for (const ok of ['http://127.0.0.1:8080', 'http://127.9.9.9:1', 'http://localhost:8080', 'http://[::1]:8080', 'https://10.100.0.3:8443']) {
    t.equal(problem(route(ok)), null, `${ok}: accepted`);
  }
  const allowed = resolveConfig(route({ urls: ['http://10.100.0.3:8080', 'http://10.100.0.4:8080'], insecurePlaintext: true }));
  t.equal(allowed.routes[1]!.upstream.insecurePlaintext, true, 'insecurePlaintext: true allows it');
  t.equal(resolveConfig(route('http://127.0.0.1:1')).routes[1]!.upstream.insecurePlaintext, false, 'off by default');
  t.equal(resolveConfig({ tls }, { upstream: 'http://10.100.0.3:8080', insecurePlaintextUpstream: true }).routes[0]!.upstream.insecurePlaintext, true, 'the quick-start flag allows it');
  t.equal(problem(route({ url: 'http://10.0.0.1', insecurePlaintext: 'yes' }))?.code, 'ZTP_CONFIG_INVALID', 'insecurePlaintext must be a boolean');
});

function unshareReadiness(): string | false {
  if (!existsSync(main)) return 'dist/main.js missing: run npm run build';
  const missing = skipUnlessInstalled(runs('unshare') && runs('ip', ['-V']), 'unshare / ip', 'util-linux, iproute2');
  if (missing) return missing;
  const r = spawnSync('unshare', ['-rn', 'sh', '-c', 'ip link set lo up && ip -o route show'], { encoding: 'utf8' });
  if (r.status !== 0) return `unshare -rn unavailable: ${(r.stderr || r.error?.message || '').trim()}`;
  return false;
}

/** Runs `ztproxy serve …` inside a fresh network namespace with only loopback up. */
function serveIsolated(args: string[]) {
  const child = spawn('unshare', ['-rn', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', process.execPath, main, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => out };
}

t.test('serve exits 3 naming the route, or starts with a warning when allowed (isolated network)', { skip: unshareReadiness() }, async (t) => {
  const pki = await makePki(t.testdir());
  const base = ['--listen', '127.0.0.1:0', '--cert', pki.server.cert, '--key', pki.server.key, '--client-ca', pki.caCert, '--metrics-listen', 'off'];

  const refused = serveIsolated([...base, '--upstream', 'http://10.100.0.3:8080']);
  t.equal(await refused.exited, 3, 'exit 3: invalid config');
  t.match(refused.output(), /route "default"/, 'names the route');
  t.match(refused.output(), /insecure-plaintext-upstream|insecurePlaintext/, 'says how to allow it');

  const allowed = serveIsolated([...base, '--upstream', 'http://10.100.0.3:8080', '--insecure-plaintext-upstream']);
  t.teardown(() => void allowed.child.kill('SIGKILL'));
  const warned = await new Promise<boolean>((resolve) => {
    const check = () => {
      if (/insecure plaintext upstream enabled/.test(allowed.output())) resolve(true);
    };
    allowed.child.stdout.on('data', check);
    allowed.child.stderr.on('data', check);
    void allowed.exited.then(() => resolve(/insecure plaintext upstream enabled/.test(allowed.output())));
  });
  t.ok(warned, 'starts and logs the insecure-plaintext warning');
  const line = allowed.output().split('\n').find((l) => l.includes('insecure plaintext upstream enabled')) ?? '';
  t.match(line, /"level":("warn"|40)/, 'at warn level');
  t.match(line, /"route":"default"/, 'naming the route');
  allowed.child.kill('SIGTERM');
  t.not(await allowed.exited, 3, 'it was running, not refused');
});
