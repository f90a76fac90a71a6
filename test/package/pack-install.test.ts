/**
 * The npm tarball is what an operator installs (docs/install.md): build, pack,
 * install it globally into a private prefix the way `npm install -g --prefix
 * /usr` would, and run the installed bin. The tarball holds only the runtime
 * (dist/), config/, systemd/, docs, README and package.json: no TypeScript
 * sources, no tests, no key material.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { skipUnlessInstalled } from '../helpers/tools.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { name: string; version: string };
// Packing and installing (from the npm cache) takes about 15 s here.
t.setTimeout(300_000);

function npm(args: string[], cwd: string) {
  const r = spawnSync('npm', args, { cwd, encoding: 'utf8', timeout: 240_000 });
  return { status: r.status, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') + (r.error?.message ?? '') };
}

const npmMissing = spawnSync('npm', ['--version'], { encoding: 'utf8' }).status !== 0;

/** Top-level entries allowed in the tarball; npm adds package.json, README* and LICENSE* itself. */
const ALLOWED_TOP = /^(dist|config|systemd|docs)\/|^package\.json$|^README(\.md)?$|^LICENSE/i;
const PRIVATE_KEY_PEM = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

t.test('pack, install -g into a prefix, run the bin', { skip: skipUnlessInstalled(!npmMissing, 'npm') }, async (t) => {
  const dir = t.testdir();
  // `npm test` builds first (pretest). Building again here would rewrite dist/
  // under the feet of test files running in parallel, so only a checkout
  // without any build gets one.
  if (!existsSync(join(repoRoot, 'dist', 'main.js'))) {
    const build = npm(['run', 'build'], repoRoot);
    t.equal(build.status, 0, 'npm run build', { stderr: build.stderr, stdout: build.stdout });
    if (build.status !== 0) return;
  }

  // --ignore-scripts: prepack would run the build (see above).
  const pack = npm(['pack', '--ignore-scripts', '--json', '--pack-destination', dir], repoRoot);
  t.equal(pack.status, 0, 'npm pack', { stderr: pack.stderr });
  const [info] = JSON.parse(pack.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  t.equal(info?.filename, `${pkg.name}-${pkg.version}.tgz`);
  const files = (info?.files ?? []).map((f) => f.path);

  t.same(files.filter((f) => !ALLOWED_TOP.test(f)), [], 'only dist, config, systemd, docs, README, package.json');
  t.same(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')), [], 'no TypeScript sources');
  t.same(files.filter((f) => /(^|\/)(test|src|certs-dev)\//.test(f)), [], 'no tests, sources or dev certificates');
  t.same(files.filter((f) => /\.(key|p12|pfx|pem|crt)$/.test(f)), [], 'no key or certificate files');
  for (const f of ['dist/main.js', 'systemd/ztproxy.service', 'systemd/ztproxy.socket', 'config/ztproxy.example.yaml']) {
    t.ok(files.includes(f), `contains ${f}`);
  }

  const prefix = join(dir, 'prefix');
  const install = npm(
    ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(dir, info!.filename)],
    dir,
  );
  t.equal(install.status, 0, 'npm install -g --prefix', { stderr: install.stderr });
  if (install.status !== 0) return;

  const installed = join(prefix, 'lib', 'node_modules', pkg.name);
  t.same(walk(installed).filter((f) => !f.includes('/node_modules/') && PRIVATE_KEY_PEM.test(readFileSync(f, 'latin1'))),
    [], 'no PEM private key anywhere in the installed package');

  const bin = join(prefix, 'bin', 'ztproxy');
  const version = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  t.equal(version.status, 0, 'ztproxy --version exits 0', { stderr: version.stderr });
  const lines = version.stdout.trim().split('\n');
  t.equal(lines[0], pkg.version, 'prints the package.json version on its first line');
  t.match(lines.slice(1).join('\n'), /^node v\d+\.\d+\.\d+.*\nopenssl \d/, 'then the Node and OpenSSL versions');

  const help = spawnSync(bin, ['--help'], { encoding: 'utf8' });
  t.equal(help.status, 0, 'ztproxy --help exits 0', { stderr: help.stderr });
  t.match(help.stdout, /serve/, '--help lists serve');
});
