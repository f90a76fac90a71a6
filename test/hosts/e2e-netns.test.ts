/**
 * End to end: three hosts (proxy, app, db) in their own network namespaces,
 * joined by a bridge as the "public" underlay (192.168.77.0/24), come up from
 * the rendered wg0.conf (wireguard-go: the kernel here has no WireGuard
 * module) and nftables.conf. Then: app reaches db:5432 over wg0; proxy
 * reaches db:22 over wg0 but NOT db:5432; nothing reaches db:5432 over the
 * underlay; ztproxy on the proxy's wg address serves app's request with a
 * client certificate (upstream: app's wg address) and refuses one without.
 * Everything is torn down in t.teardown, also on failure.
 * Skips when the machine lacks CAP_NET_ADMIN or /dev/net/tun.
 */
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issueServer } from '../../src/ca/index.js';
import { parseInventory, renderHosts, writeRendered } from '../../src/hosts/index.js';
import { makePki } from '../helpers/pki.js';
import { runs, skipUnlessInstalled } from '../helpers/tools.js';

const id = randomBytes(3).toString('hex');
const ns = (h: string) => `ztp-${id}-${h}`;
const HOSTS = [
  { name: 'proxy', wg: '10.100.0.1', underlay: '192.168.77.1' },
  { name: 'db', wg: '10.100.0.2', underlay: '192.168.77.2' },
  { name: 'app', wg: '10.100.0.3', underlay: '192.168.77.3' },
];
const INVENTORY = `
hosts:
${HOSTS.map((h) => `  - { name: ${h.name}, role: ${h.name}, address: ${h.wg}/24, endpoint: "${h.underlay}:51820" }`).join('\n')}
rules:
  - { from: app, to: db, port: 5432 }
  - { from: proxy, to: app, port: 8080 }
  - { from: app, to: proxy, port: 443 }
  - { from: any, to: proxy, port: 443, via: public }
  - { from: any, to: all, port: 22 }
`;

/** Runs a command to completion (bounded); throws with its stderr on failure. */
function sh(cmd: string, args: string[], timeoutMs = 15000): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}`);
  return r.stdout;
}

function skipReason(): string | false {
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun: wireguard-go cannot create wg0';
  for (const [cmd, arg] of [['ip', '-V'], ['nft', '--version'], ['wg', '--version'], ['wg-quick', '-h'], ['wireguard-go', '--version'], ['nsenter', '--version']] as const) {
    const missing = skipUnlessInstalled(runs(cmd, [arg]), cmd);
    if (missing) return missing;
  }
  const probe = `ztp-${id}-probe`;
  if (spawnSync('ip', ['netns', 'add', probe], { stdio: 'ignore' }).status !== 0) return 'no CAP_NET_ADMIN: cannot create network namespaces';
  spawnSync('ip', ['netns', 'del', probe], { stdio: 'ignore' });
  return false;
}

// A TCP connect from inside a namespace with a bounded timeout: resolves true when the server greets us.
const CONNECT = `const s=require('net').connect({host:process.argv[1],port:+process.argv[2],timeout:+process.argv[3]});
s.on('data',()=>process.exit(0));s.on('timeout',()=>process.exit(2));s.on('error',()=>process.exit(1));`;
function canConnect(from: string, host: string, port: number, timeoutMs = 3000): boolean {
  const r = spawnSync('ip', ['netns', 'exec', ns(from), process.execPath, '-e', CONNECT, host, String(port), String(timeoutMs)], {
    timeout: timeoutMs + 5000,
  });
  return r.status === 0;
}
/** The first packets wait for the WireGuard handshake: try an allowed connection a few times. */
function eventuallyConnects(from: string, host: string, port: number): boolean {
  for (let i = 0; i < 4; i++) if (canConnect(from, host, port)) return true;
  return false;
}

const skip = skipReason();
t.test('three rendered hosts come up in network namespaces and enforce the rules', { skip }, async (t) => {
  const children: ChildProcess[] = [];
  const namespaces = ['net', ...HOSTS.map((h) => h.name)].map(ns);
  t.teardown(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    for (const n of namespaces) spawnSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
  });

  const dir = t.testdir({});
  const inv = parseInventory(INVENTORY, 'e2e.yaml');
  const files = await renderHosts(inv, { keysDir: join(dir, 'keys') });
  await writeRendered(join(dir, 'out'), files);

  // Underlay: a bridge in its own namespace, one veth pair per host.
  for (const n of namespaces) sh('ip', ['netns', 'add', n]);
  sh('ip', ['-n', ns('net'), 'link', 'add', 'br0', 'type', 'bridge']);
  sh('ip', ['-n', ns('net'), 'link', 'set', 'br0', 'up']);
  // wireguard-go's control socket lives in /var/run/wireguard, shared by all namespaces: each
  // instance gets a private tmpfs there, inside the mount namespace `ip netns exec` creates.
  mkdirSync('/var/run/wireguard', { recursive: true, mode: 0o700 });
  for (const h of HOSTS) {
    const n = ns(h.name);
    sh('ip', ['-n', ns('net'), 'link', 'add', `v-${h.name}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n]);
    sh('ip', ['-n', ns('net'), 'link', 'set', `v-${h.name}`, 'master', 'br0', 'up']);
    sh('ip', ['-n', n, 'addr', 'add', `${h.underlay}/24`, 'dev', 'eth0']);
    sh('ip', ['-n', n, 'link', 'set', 'eth0', 'up']);
    sh('ip', ['-n', n, 'link', 'set', 'lo', 'up']);

    const wg = spawn('ip', ['netns', 'exec', n, 'sh', '-c', 'mount -t tmpfs tmpfs /var/run/wireguard && exec wireguard-go wg0'], {
      env: { ...process.env, WG_PROCESS_FOREGROUND: '1', LOG_LEVEL: 'error' },
      stdio: 'ignore',
    });
    children.push(wg);
    const inWgNs = (...args: string[]) => ['-t', String(wg.pid), '-m', '-n', ...args];
    for (let i = 0; spawnSync('nsenter', inWgNs('wg', 'show', 'wg0'), { stdio: 'ignore', timeout: 5000 }).status !== 0; i++) {
      if (i > 50 || wg.exitCode !== null) throw new Error(`wireguard-go did not come up in ${n}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const stripped = join(dir, `${h.name}.stripped.conf`);
    writeFileSync(stripped, sh('wg-quick', ['strip', join(dir, 'out', h.name, 'wg0.conf')]), { mode: 0o600 });
    sh('nsenter', inWgNs('wg', 'setconf', 'wg0', stripped));
    sh('ip', ['-n', n, 'addr', 'add', `${h.wg}/24`, 'dev', 'wg0']);
    sh('ip', ['-n', n, 'link', 'set', 'wg0', 'mtu', String(inv.network.mtu), 'up']);
    sh('ip', ['netns', 'exec', n, 'nft', '-f', join(dir, 'out', h.name, 'nftables.conf')]);
  }

  // db listens on every address, on the allowed port (5432) and on SSH's (22).
  const server = spawn('ip', ['netns', 'exec', ns('db'), process.execPath, '-e',
    `const net=require('net');let n=0;for(const p of [5432,22])net.createServer(s=>s.end('hi\\n')).listen(p,'0.0.0.0',()=>{if(++n===2)console.log('ready')});`,
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(server);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('db listener did not start')), 15000);
    server.stdout!.on('data', () => (clearTimeout(timer), resolve()));
    server.once('exit', () => (clearTimeout(timer), reject(new Error('db listener exited'))));
  });

  t.ok(eventuallyConnects('app', '10.100.0.2', 5432), 'app reaches db:5432 over wg0');
  t.ok(eventuallyConnects('proxy', '10.100.0.2', 22), 'proxy reaches db over wg0 (db:22, any -> all)');
  t.notOk(canConnect('proxy', '10.100.0.2', 5432), 'proxy does NOT reach db:5432 (nftables on db)');
  t.notOk(canConnect('app', '192.168.77.2', 5432), 'nothing reaches db:5432 outside wg0 (underlay address)');
  const counter = sh('ip', ['netns', 'exec', ns('db'), 'nft', 'list', 'counter', 'inet', 'ztproxy', 'input_dropped']);
  t.match(counter, /packets [1-9]\d*/, 'the refused connections show in the named drop counter');

  // ztproxy on the proxy's wg address, in front of an upstream on app's wg address (proxy -> app 8080);
  // the client is on app, reaching proxy:443 over wg0 (app -> proxy 443).
  const pki = await makePki(join(dir, 'pki'));
  const alice = await pki.client('alice', { ou: ['dev'] });
  const srv = await issueServer({ dir: pki.caDir, dns: ['proxy.internal'], ip: ['10.100.0.1'], outDir: join(dir, 'pki', 'proxy'), ttlSeconds: 3600 });
  const upstream = spawn('ip', ['netns', 'exec', ns('app'), process.execPath, '-e',
    `require('http').createServer((q,r)=>r.end(JSON.stringify(q.headers))).listen(8080,'10.100.0.3',()=>console.log('ready'))`,
  ], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_OPTIONS: '' } });
  children.push(upstream);
  const proxy = spawn('ip', ['netns', 'exec', ns('proxy'), process.execPath, join(import.meta.dirname, '../../dist/main.js'), 'serve',
    '--listen', '10.100.0.1:443', '--cert', srv.certPath, '--key', srv.keyPath, '--client-ca', pki.caCert,
    '--upstream', 'http://10.100.0.3:8080', '--insecure-plaintext-upstream', '--metrics-listen', 'off',
  ], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
  children.push(proxy);
  let out = '';
  proxy.stdout!.on('data', (d: Buffer) => (out += d));
  proxy.stderr!.on('data', (d: Buffer) => (out += d));
  for (let i = 0; !/ztproxy listening/.test(out); i++) {
    if (i > 300 || proxy.exitCode !== null) throw new Error(`ztproxy did not start in the proxy namespace: ${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  t.match(out, /insecure plaintext upstream enabled/, 'the plaintext hop over wg0 is allowed only with the flag, and warned about');
  const curl = (withCert: boolean) =>
    spawnSync('ip', ['netns', 'exec', ns('app'), 'curl', '-sS', '--max-time', '10', '--cacert', pki.caCert,
      ...(withCert ? ['--cert', alice.cert, '--key', alice.key] : []), 'https://10.100.0.1/'], { encoding: 'utf8', timeout: 20000 });
  let served = curl(true);
  for (let i = 0; i < 3 && served.status !== 0; i++) served = curl(true); // the first packets wait for the WireGuard handshake
  t.equal(served.status, 0, `curl over wg0 with a client certificate succeeds ${served.stderr}`);
  t.equal((JSON.parse(served.stdout || '{}') as Record<string, string>)['x-client-subject-dn'], 'CN=alice,OU=dev', 'the upstream on app sees the DN');
  const refused = curl(false);
  t.not(refused.status, 0, 'without a client certificate the handshake is refused');
  t.equal(refused.stdout, '', 'and nothing is answered');
});
