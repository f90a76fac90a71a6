/**
 * The proxy starts and serves mTLS under the restrictions of
 * systemd/ztproxy.service. systemd is usually not PID 1 where tests run (a
 * container), so test/systemd/sandbox.sh applies the restrictions by hand:
 * unprivileged user, CAP_NET_BIND_SERVICE as the only (ambient, bounding)
 * capability, no-new-privs, read-only file system, private /tmp, minimal
 * /dev, no home directories, /proc with hidepid=invisible,subset=pid, private
 * IPC/UTS, umask 077. The seccomp and BPF parts (SystemCallFilter=,
 * RestrictAddressFamilies= ...) are not emulated; see sandbox.sh.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { dirname, join } from 'node:path';
import {
  distMain,
  loadMakePki,
  loaderFinds,
  pem,
  repoRoot,
  run,
  serveFlagsMissing,
  systemdDir,
  unitEnvironment,
  which,
  type Pki,
} from './unit-tools.js';
import { skipUnlessInstalled } from '../helpers/tools.js';

const sandboxSh = join(repoRoot, 'test', 'systemd', 'sandbox.sh');
const service = join(systemdDir, 'ztproxy.service');
// The unit's user is "ztproxy"; nobody stands in for it so the test needs no useradd.
const SERVICE_UID = 65534;
const SERVICE_GID = 65534;
const CAP_NET_BIND_SERVICE_ONLY = '0000000000000400';
const NO_CAPS = '0000000000000000';

function whySkip(): string | false {
  if (process.platform !== 'linux') return 'Linux only (namespaces, setpriv)';
  if (process.getuid?.() !== 0) {
    return 'needs root: setpriv switches to the service user and grants CAP_NET_BIND_SERVICE, unshare mounts';
  }
  for (const tool of ['bash', 'unshare', 'setpriv', 'mount', 'mknod']) {
    const missing = skipUnlessInstalled(which(tool) !== undefined, tool, 'util-linux, coreutils');
    if (missing) return missing;
  }
  const probe = run('unshare', ['--mount', '--pid', '--fork', '--ipc', '--uts', 'true']);
  if (probe.status !== 0) return `cannot create namespaces here: ${probe.stderr.trim()}`;
  return false;
}
const skip = whySkip();

const pid1 = (() => {
  try {
    return readFileSync('/proc/1/comm', 'utf8').trim();
  } catch {
    return 'unknown';
  }
})();
t.comment(
  pid1 === 'systemd'
    ? 'systemd is PID 1 here: `systemctl start` of the installed unit is the stronger proof (docs/install.md)'
    : `PID 1 is "${pid1}", not systemd: systemd-run cannot apply the unit, so sandbox.sh applies it by hand`,
);

/** Config directory laid out like /etc/ztproxy: root:<service group>, 0750, files 0640. */
function makeConfDir(dir: string, files: Record<string, string>): string {
  const conf = join(dir, 'etc-ztproxy');
  mkdirSync(conf, { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    const file = join(conf, name);
    writeFileSync(file, text);
    chownSync(file, 0, SERVICE_GID);
    chmodSync(file, 0o640);
  }
  const rootOnly = join(conf, 'root-only.key');
  writeFileSync(rootOnly, 'not for the service\n');
  chmodSync(rootOnly, 0o600);
  chownSync(conf, 0, SERVICE_GID);
  chmodSync(conf, 0o750);
  return conf;
}

function sandboxArgs(dir: string, opts: { caps: boolean }): string[] {
  const args = [sandboxSh, '--uid', String(SERVICE_UID), '--gid', String(SERVICE_GID)];
  if (!opts.caps) args.push('--no-caps');
  for (const p of [repoRoot, dirname(process.execPath), dir]) args.push('--needs', p);
  return [...args, '--'];
}

async function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A free port below 1024, so binding it needs CAP_NET_BIND_SERVICE. */
async function freePrivilegedPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 600 + Math.floor(Math.random() * 400);
    if (await canBind(port)) return port;
  }
  throw new Error('no free port in 600-999');
}

// Runs inside the sandbox as the service user and reports what it can do.
const PROBE = `
const fs = require('fs'), net = require('net'), os = require('os');
const [conf, port, marker] = process.argv.slice(1);
const status = fs.readFileSync('/proc/self/status', 'utf8');
const field = (k) => (new RegExp('^' + k + ':\\\\s*(.*)$', 'm').exec(status) || [])[1];
const attempt = (f) => { try { f(); return 'ok'; } catch (e) { return e.code; } };
const out = {
  uid: process.getuid(), gid: process.getgid(), groups: process.getgroups(),
  capEff: field('CapEff'), capBnd: field('CapBnd'), capAmb: field('CapAmb'),
  noNewPrivs: field('NoNewPrivs'), umask: field('Umask'),
  readKey: attempt(() => fs.readFileSync(conf + '/server.key')),
  readRootOnly: attempt(() => fs.readFileSync(conf + '/root-only.key')),
  writeConf: attempt(() => fs.writeFileSync(conf + '/new', 'x')),
  writeEtc: attempt(() => fs.writeFileSync('/etc/ztproxy-probe', 'x')),
  writeTmp: attempt(() => fs.writeFileSync('/tmp/probe', 'x')),
  hostTmpVisible: fs.existsSync(marker),
  listRoot: attempt(() => fs.readdirSync('/root')),
  pids: fs.readdirSync('/proc').filter((e) => /^\\d+$/.test(e)).length,
  procStat: fs.existsSync('/proc/stat'),
  devices: fs.readdirSync('/dev').sort(),
  cpus: os.cpus().length, parallelism: os.availableParallelism(),
  env: { NODE_ENV: process.env.NODE_ENV, NODE_OPTIONS: process.env.NODE_OPTIONS, LD_PRELOAD: process.env.LD_PRELOAD },
  jemalloc: fs.readFileSync('/proc/self/maps', 'utf8').includes('libjemalloc'),
};
net.createServer().once('error', (e) => { out.bind = e.code; console.log(JSON.stringify(out)); })
  .listen(Number(port), '127.0.0.1', function () { out.bind = 'ok'; this.close(); console.log(JSON.stringify(out)); });
`;

interface ProbeResult {
  uid: number; gid: number; groups: number[];
  capEff: string; capBnd: string; capAmb: string; noNewPrivs: string; umask: string;
  readKey: string; readRootOnly: string; writeConf: string; writeEtc: string; writeTmp: string;
  hostTmpVisible: boolean; listRoot: string; pids: number; procStat: boolean; devices: string[];
  cpus: number; parallelism: number; bind: string;
  env: Record<string, string | undefined>; jemalloc: boolean;
}

async function probe(t: Test, caps: boolean): Promise<ProbeResult> {
  const dir = t.testdir();
  const conf = makeConfDir(dir, { 'server.key': 'key material\n' });
  const marker = `/tmp/ztproxy-sandbox-marker-${process.pid}`;
  writeFileSync(marker, '');
  t.teardown(() => rmSync(marker, { force: true }));
  const port = await freePrivilegedPort();
  const r = run('bash', [...sandboxArgs(dir, { caps }), process.execPath, '-e', PROBE, conf, String(port), marker]);
  t.equal(r.status, 0, 'probe ran', { stderr: r.stderr });
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as ProbeResult;
}

t.test('sandbox.sh applies the unit restrictions', { skip }, async (t) => {
  const p = await probe(t, true);
  t.equal(p.uid, SERVICE_UID, 'User=');
  t.equal(p.gid, SERVICE_GID, 'Group=');
  t.same(p.groups, [SERVICE_GID], 'no supplementary groups');
  t.equal(p.capEff, CAP_NET_BIND_SERVICE_ONLY, 'AmbientCapabilities=CAP_NET_BIND_SERVICE only');
  t.equal(p.capAmb, CAP_NET_BIND_SERVICE_ONLY);
  t.equal(p.capBnd, CAP_NET_BIND_SERVICE_ONLY, 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE');
  t.equal(p.noNewPrivs, '1', 'NoNewPrivileges=yes');
  t.equal(p.umask, '0077', 'UMask=0077');
  t.equal(p.readKey, 'ok', 'key readable through the group (root:ztproxy 0640)');
  t.equal(p.readRootOnly, 'EACCES', 'a root-only file is not');
  t.equal(p.writeConf, 'EROFS', 'ReadOnlyPaths=/etc/ztproxy');
  t.equal(p.writeEtc, 'EROFS', 'ProtectSystem=strict');
  t.equal(p.writeTmp, 'ok', 'PrivateTmp= is writable');
  t.equal(p.hostTmpVisible, false, "the host's /tmp is not visible");
  t.equal(p.listRoot, 'EACCES', 'ProtectHome=yes');
  t.equal(p.pids, 1, 'ProtectProc=invisible: only its own process');
  t.equal(p.procStat, false, 'ProcSubset=pid');
  t.same(p.devices, ['fd', 'full', 'null', 'random', 'shm', 'stderr', 'stdin', 'stdout', 'tty', 'urandom', 'zero'],
    'PrivateDevices=yes');
  t.equal(p.bind, 'ok', 'binds a port below 1024');
  // ProcSubset=pid hides /proc/stat, so os.cpus() is empty: `workers: auto`
  // must count with os.availableParallelism() (sched_getaffinity).
  t.equal(p.cpus, 0, 'os.cpus() is empty under ProcSubset=pid');
  t.ok(p.parallelism >= 1, 'os.availableParallelism() still works');
  // The unit's Environment= lines (memory-settings.test.ts checks what they do).
  const unitEnv = unitEnvironment(service);
  t.same(p.env, { NODE_ENV: unitEnv.NODE_ENV, NODE_OPTIONS: unitEnv.NODE_OPTIONS, LD_PRELOAD: unitEnv.LD_PRELOAD }, "the unit's Environment=");
  t.ok(unitEnv.LD_PRELOAD, 'the unit preloads an allocator');
  t.equal(p.jemalloc, true, 'jemalloc loads under the sandbox (ProcSubset=pid hides /proc/sys from it)', {
    skip: skipUnlessInstalled(loaderFinds(unitEnv.LD_PRELOAD ?? ''), 'libjemalloc2', 'apt-get install libjemalloc2'),
  });
});

t.test('without the capability (socket mode) a port below 1024 cannot be bound', { skip }, async (t) => {
  const p = await probe(t, false);
  t.equal(p.capEff, NO_CAPS);
  t.equal(p.capBnd, NO_CAPS);
  t.equal(p.bind, 'EACCES');
});

const userns = skip ? undefined : run('unshare', ['--user', '--map-root-user', 'true']);
t.test('PrivateUsers=yes would break the bind even with the capability', {
  skip: skip || (userns?.status !== 0 ? 'user namespaces are disabled here' : false),
}, async (t) => {
  // In a user namespace root holds every capability, but only over resources
  // that namespace owns; the host network namespace is not one of them.
  const port = await freePrivilegedPort();
  const code = `require('net').createServer().once('error', (e) => console.log(e.code))
    .listen(${port}, '127.0.0.1', function () { console.log('ok'); this.close(); })`;
  const r = run('unshare', ['--user', '--map-root-user', process.execPath, '-e', code]);
  t.equal(r.stdout.trim(), 'EACCES');
});

const QUICK_START_FLAGS = ['--listen', '--cert', '--key', '--client-ca', '--upstream'];
const missingFlags = skip ? [] : serveFlagsMissing(QUICK_START_FLAGS);
const makePki = skip ? undefined : await loadMakePki();
const serveSkip =
  skip ||
  (missingFlags.length > 0
    ? `\`ztproxy serve\` in ${distMain} lacks ${missingFlags.join(' ')} (not implemented yet, or run npm run build)`
    : typeof makePki === 'string'
      ? makePki
      : false);

/** HTTPS GET through the proxy, verifying it against the test CA. */
function get(port: number, pki: { ca: string }, client?: { cert: string; key: string }) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = https.get(
      {
        host: '127.0.0.1',
        port,
        path: '/hello',
        ca: pki.ca,
        servername: 'localhost',
        // The test server leaf may name localhost or 127.0.0.1; either is fine,
        // the chain is still verified against the test CA.
        checkServerIdentity: (_host, cert) =>
          tls.checkServerIdentity('localhost', cert) && tls.checkServerIdentity('127.0.0.1', cert),
        agent: false,
        ...(client ?? {}),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
  });
}

t.test('the proxy starts in the sandbox and serves one mTLS request', { skip: serveSkip }, async (t) => {
  const dir = t.testdir();
  const pki: Pki = await (makePki as (dir: string) => Promise<Pki>)(join(dir, 'pki'));
  const alice = await pki.client('alice');
  const ca = pem(pki.caCert);
  const conf = makeConfDir(dir, {
    'server.crt': pem(pki.server.cert),
    'server.key': pem(pki.server.key),
    'ca.crt': ca,
  });

  let seen: http.IncomingHttpHeaders | undefined;
  const upstream = http.createServer((req, res) => {
    seen = req.headers;
    res.end('hello from upstream\n');
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    upstream.closeAllConnections();
    upstream.close();
  });
  const upstreamPort = (upstream.address() as net.AddressInfo).port;

  const port = await freePrivilegedPort();
  const child = spawn('bash', [
    ...sandboxArgs(dir, { caps: true }),
    process.execPath, distMain, 'serve',
    '--listen', `127.0.0.1:${port}`,
    '--cert', join(conf, 'server.crt'),
    '--key', join(conf, 'server.key'),
    '--client-ca', join(conf, 'ca.crt'),
    '--upstream', `http://127.0.0.1:${upstreamPort}`,
    // The test reads no metrics: the default 127.0.0.1:9464 may be taken (a developer's `npm start`).
    '--metrics-listen', 'off',
  ], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  let exited: number | null | undefined;
  const gone = new Promise<void>((resolve) => child.on('exit', (code) => ((exited = code), resolve())));
  // unshare ignores SIGTERM while it waits, so signal the whole process group
  // (sandbox.sh passes SIGTERM on to the proxy, as KillMode=mixed would), and
  // SIGKILL it if the proxy has not drained within 5 s.
  t.teardown(async () => {
    if (exited !== undefined) return;
    process.kill(-child.pid!, 'SIGTERM');
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 5_000);
    await gone;
    clearTimeout(timer);
  });

  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exited !== undefined) {
      t.fail(`proxy exited with ${exited} before listening`, { output });
      return;
    }
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline) {
      t.fail('proxy did not listen within 20 s', { output });
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  const res = await get(port, { ca }, { cert: pem(alice.cert), key: pem(alice.key) });
  t.equal(res.status, 200, 'request with a client certificate is proxied');
  t.notMatch(output, /ld\.so|cannot be preloaded|<jemalloc>/, 'the loader and jemalloc did not complain');
  t.equal(res.body, 'hello from upstream\n');
  t.match(String(seen?.['x-client-subject-dn']), /CN=alice/, 'upstream sees the client DN');

  seen = undefined;
  await t.rejects(get(port, { ca }), 'request without a client certificate is refused');
  t.equal(seen, undefined, 'and never reaches the upstream');
});
