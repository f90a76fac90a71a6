// Idle-connection memory experiment (issue 15): how many KB of the server's RSS one idle mutual-TLS
// connection costs, per runtime and per variant (TLS options, groups, client certificate or not, malloc
// settings, Node flags), and where it sits (V8 heap, external / ArrayBuffers, the rest: native malloc).
// Findings in bench/MEMORY.md.
//
// For each runtime × variant: start bench/micro/idle-mem-server.mjs, warm it up with WARM connections
// (opened, one request each, closed), measure (three forced GCs), open N idle connections from a separate
// client process (bench/idle-client.mjs, one request each), wait SETTLE_MS, measure again.
// KB/conn = growth / connections held. With MALLOC_PROBE=1 it also attaches gdb to the server and calls
// glibc's malloc_stats() (bytes malloc has in use vs holds from the system) and then malloc_trim(0), and
// measures the RSS once more: memory malloc holds but has freed shows up as the trim's drop.
//
// Usage: node bench/micro/idle-mem.mjs                       (all variants on both runtimes)
//   VARIANTS=base,nocert RUNTIMES=24 N=2000 node bench/micro/idle-mem.mjs
// Env: N (2000), WARM (200), SETTLE_MS (2000), RUNTIMES (20,24), VARIANTS (comma list, see below),
//   NODE20 (/usr/bin/node), NODE24 (/opt/node24/package/bin/node), MALLOC_PROBE (0), SNAPSHOT (0: 1 writes
//   heap snapshots before/after and prints the per-connection growth by constructor), OUT (bench/out/idle-mem).
// Every process it starts is stopped by PID; each has its own lifetime limit as well.
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const env = process.env;
const OUT = env.OUT ?? path.join(HERE, '..', 'out', 'idle-mem');
const N = Number(env.N ?? 2000);
const WARM = Number(env.WARM ?? 200);
const SETTLE_MS = Number(env.SETTLE_MS ?? 2000);
const NODES = { 20: env.NODE20 ?? '/usr/bin/node', 24: env.NODE24 ?? '/opt/node24/package/bin/node' };
const RUNTIMES = (env.RUNTIMES ?? '20,24').split(',');
const JEMALLOC = '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2';

/**
 * Variants: `server` env for idle-mem-server.mjs, `client` env for the client, `clientNode` (which runtime's
 * client: 20 offers X25519 first like ab's OpenSSL 3.0; 24 offers X25519MLKEM768), `proc` env of the server
 * process (allocator), `flags` Node flags of the server.
 */
const VARIANTS = {
  base: {},
  nocert: { server: { REQUEST_CERT: '0' }, noClientCert: true },
  tls12: { server: { MAX_VERSION: 'TLSv1.2' } },
  'x25519-only': { server: { ECDH_CURVE: 'X25519' } },
  'p256-only': { server: { ECDH_CURVE: 'P-256' } },
  'mlkem-client': { clientNode: '24' },
  'mlkem-client-x25519': { clientNode: '24', server: { ECDH_CURVE: 'X25519:P-256' } },
  tickets: { server: { TICKETS: '1' } },
  nodelay: { server: { NODELAY: '1' } },
  'hwm-1k': { server: { HWM: '1024' } },
  'no-encoding': { server: { ENCODING: 'none' } },
  pause: { server: { PAUSE: '1' } },
  'keep-peer': { server: { KEEP_PEER: '1' } },
  https: { server: { HTTP: '1' } },
  'arena-1': { proc: { MALLOC_ARENA_MAX: '1' } },
  'arena-2': { proc: { MALLOC_ARENA_MAX: '2' } },
  'trim-0': { proc: { MALLOC_TRIM_THRESHOLD_: '0' } },
  'top-pad-0': { proc: { MALLOC_TOP_PAD_: '0', MALLOC_TRIM_THRESHOLD_: '0' } },
  'mmap-64k': { proc: { GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=65536' } },
  'mmap-16k': { proc: { GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=16384:glibc.malloc.trim_threshold=0' } },
  'mmap-16k-arena-1': { proc: { GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=16384:glibc.malloc.trim_threshold=0:glibc.malloc.arena_max=1' } },
  'tcache-0': { proc: { GLIBC_TUNABLES: 'glibc.malloc.tcache_count=0' } },
  jemalloc: { proc: { LD_PRELOAD: JEMALLOC } },
  'jemalloc-decay0': { proc: { LD_PRELOAD: JEMALLOC, MALLOC_CONF: 'dirty_decay_ms:0,muzzy_decay_ms:0' } },
  'jemalloc-1arena': { proc: { LD_PRELOAD: JEMALLOC, MALLOC_CONF: 'narenas:1,dirty_decay_ms:1000,muzzy_decay_ms:0' } },
  'semi-1m': { flags: ['--max-semi-space-size=1'] },
  'optimize-for-size': { flags: ['--optimize-for-size'] },
  'old-64m': { flags: ['--max-old-space-size=64'] },
  'v8-pool-1': { flags: ['--v8-pool-size=1'] },
};
const wanted = env.VARIANTS ? env.VARIANTS.split(',') : Object.keys(VARIANTS);
for (const v of wanted) if (!VARIANTS[v]) throw new Error(`unknown variant ${v}: ${Object.keys(VARIANTS).join(', ')}`);

const children = new Set();
function startChild(cmd, args, opts) {
  const c = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], ...opts });
  children.add(c);
  c.on('exit', () => children.delete(c));
  c.lines = [];
  c.waiters = [];
  c.stderrText = '';
  let buf = '';
  c.stdout.setEncoding('utf8').on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (!line.startsWith('{')) continue; // heaptrack's own lines
      const w = c.waiters.shift();
      if (w) w(line);
      else c.lines.push(line);
    }
  });
  c.stderr.setEncoding('utf8').on('data', (d) => (c.stderrText += d));
  return c;
}
function nextLine(c, ms = 300_000) {
  if (c.lines.length) return Promise.resolve(c.lines.shift());
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer in ${ms} ms; stderr: ${c.stderrText.slice(-2000)}`)), ms);
    c.once('exit', (code) => reject(new Error(`exited ${code}; stderr: ${c.stderrText.slice(-2000)}`)));
    c.waiters.push((l) => {
      clearTimeout(t);
      resolve(l);
    });
  });
}
async function stopChild(c) {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise((r) => c.once('exit', r));
  c.stdin.end();
  const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}
for (const sig of ['SIGINT', 'SIGTERM'])
  process.on(sig, () => {
    for (const c of children) c.kill('SIGKILL');
    process.exit(130);
  });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function certs() {
  const dir = path.join(OUT, 'certs');
  if (existsSync(path.join(dir, 'client.crt'))) return dir;
  mkdirSync(dir, { recursive: true });
  const o = (args) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  o(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '30', '-subj', '/CN=idle-mem CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  for (const [name, subj, ext] of [
    ['server', '/CN=localhost', ['subjectAltName=DNS:localhost,IP:127.0.0.1', 'extendedKeyUsage=serverAuth']],
    ['client', '/O=bench/OU=bench/CN=bench', ['extendedKeyUsage=clientAuth']],
  ]) {
    o(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj]);
    writeFileSync(path.join(dir, `${name}.ext`), ext.join('\n') + '\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n');
    o(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '30', '-out', `${name}.crt`, '-extfile', `${name}.ext`]);
  }
  return dir;
}

/** glibc's malloc_stats() totals, called in the server through gdb (printed on the server's stderr). */
async function mallocProbe(server, trim) {
  const before = server.stderrText.length;
  const ex = ['-ex', 'call (void)malloc_stats()'];
  if (trim) ex.push('-ex', 'call (int)malloc_trim(0)', '-ex', 'call (void)malloc_stats()');
  const r = spawnSync('gdb', ['-nx', '-batch', '-iex', 'set auto-load off', '-iex', 'set debuginfod enabled off', '-p', String(server.pid), ...ex], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) return { error: (r.stderr || r.error?.message || '').slice(-500) };
  await sleep(200);
  const text = server.stderrText.slice(before);
  const totals = [...text.matchAll(/Total \(incl\. mmap\):\s*system bytes\s*=\s*(\d+)\s*in use bytes\s*=\s*(\d+)/g)].map((m) => ({ system: Number(m[1]), inUse: Number(m[2]) }));
  return { totals };
}

async function runOne(rt, name) {
  const v = VARIANTS[name];
  const node = NODES[rt];
  const dir = certs();
  const serverEnv = { ...process.env, ...v.proc, CERT: `${dir}/server.crt`, KEY: `${dir}/server.key`, CA: `${dir}/ca.crt`, ...v.server };
  const nodeArgs = ['--expose-gc', ...(v.flags ?? []), path.join(HERE, 'idle-mem-server.mjs')];
  // HEAPTRACK=1: the server runs under heaptrack and exits with its N connections open, so what they hold
  // is reported as leaked, by allocation stack (heaptrack_print --print-leaks 1 FILE).
  const traced = env.HEAPTRACK === '1' ? path.join(OUT, `heaptrack-${rt}-${name}`) : null;
  const server = traced ? startChild('heaptrack', ['-o', traced, node, ...nodeArgs], { env: serverEnv }) : startChild(node, nodeArgs, { env: serverEnv });
  try {
    const hello = JSON.parse(await nextLine(server, 60_000));
    const clientEnv = { PATH: process.env.PATH, ...v.client };
    const certArgs = v.noClientCert ? ['-', '-'] : [`${dir}/client.crt`, `${dir}/client.key`];
    const clientNode = NODES[v.clientNode ?? '20'];
    const clients = async (count) => {
      const c = startChild(clientNode, [path.join(HERE, '..', 'idle-client.mjs'), String(hello.listening), String(count), ...certArgs, '32'], { env: clientEnv });
      const r = JSON.parse(await nextLine(c));
      return [c, r];
    };
    const [warm] = await clients(WARM);
    await stopChild(warm);
    await sleep(500);
    server.stdin.write('measure\n');
    const m0 = JSON.parse(await nextLine(server));
    const p0 = !traced && env.MALLOC_PROBE === '1' && !v.proc?.LD_PRELOAD ? await mallocProbe(server, false) : null;
    if (env.SNAPSHOT === '1') {
      server.stdin.write(`snapshot ${OUT}/${rt}-${name}-before.heapsnapshot\n`);
      await nextLine(server);
    }
    const [idle, info] = await clients(N);
    await sleep(SETTLE_MS);
    server.stdin.write('measure\n');
    const m1 = JSON.parse(await nextLine(server));
    let p1 = null;
    let m2 = null;
    if (!traced && env.MALLOC_PROBE === '1' && !v.proc?.LD_PRELOAD) {
      p1 = await mallocProbe(server, true);
      server.stdin.write('measure\n');
      m2 = JSON.parse(await nextLine(server));
    }
    if (env.SNAPSHOT === '1') {
      server.stdin.write(`snapshot ${OUT}/${rt}-${name}-after.heapsnapshot\n`);
      await nextLine(server);
    }
    if (traced) {
      const exited = new Promise((r) => server.once('exit', r));
      server.stdin.write('exit\n');
      await exited;
    }
    await stopChild(idle);
    const held = info.open;
    const per = (a, b) => (b - a) / held;
    const row = {
      runtime: `${hello.node} (OpenSSL ${hello.openssl})`,
      variant: name,
      held,
      failed: info.failed,
      protocol: info.protocol,
      group: info.group,
      rssKB: per(m0.rssKB, m1.rssKB),
      privateDirtyKB: per(m0.privateDirtyKB, m1.privateDirtyKB),
      heapKB: per(m0.heapUsed, m1.heapUsed) / 1024,
      externalKB: per(m0.external, m1.external) / 1024,
      arrayBuffersKB: per(m0.arrayBuffers, m1.arrayBuffers) / 1024,
      mallocedKB: per(m0.mallocedMemory, m1.mallocedMemory) / 1024,
      rssBeforeMB: m0.rssKB / 1024,
      rssAfterMB: m1.rssKB / 1024,
      connections: m1.connections,
      protocols: m1.protocols,
    };
    if (p1?.totals?.length) {
      const [a, b] = [p0?.totals?.[0], p1.totals[0]];
      if (a) row.mallocInUseKB = per(a.inUse, b.inUse) / 1024;
      row.mallocSystemMB = b.system / 1048576;
      row.mallocInUseMB = b.inUse / 1048576;
      row.rssAfterTrimKB = per(m0.rssKB, m2.rssKB);
    } else if (p1?.error) row.probeError = p1.error;
    return row;
  } finally {
    await stopChild(server);
  }
}

mkdirSync(OUT, { recursive: true });
const f1 = (x) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(1) : '–');
console.log(`N=${N} idle connections (after ${WARM} warm-up connections), load average ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
console.log('| runtime | variant | protocol / group (client) | RSS KB/conn | V8 heap KB/conn | external KB/conn | rest KB/conn | malloc in use KB/conn | RSS after malloc_trim KB/conn | RSS MB before→after |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const rt of RUNTIMES)
  for (const name of wanted) {
    try {
      const r = await runOne(rt, name);
      appendFileSync(path.join(OUT, 'results.jsonl'), JSON.stringify({ date: new Date().toISOString(), N, WARM, ...r }) + '\n');
      const rest = r.rssKB - r.heapKB - r.externalKB;
      console.log(`| ${rt} | ${name} | ${r.protocol} ${r.group} | ${f1(r.rssKB)} | ${f1(r.heapKB)} | ${f1(r.externalKB)} | ${f1(rest)} | ${f1(r.mallocInUseKB)} | ${f1(r.rssAfterTrimKB)} | ${f1(r.rssBeforeMB)}→${f1(r.rssAfterMB)}${r.held !== N ? ` (${r.held} held, ${r.failed} failed)` : ''} |`);
    } catch (e) {
      console.log(`| ${rt} | ${name} | failed: ${e.message.split('\n')[0].slice(0, 200)} |`);
    }
  }
