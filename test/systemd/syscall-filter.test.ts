/**
 * The part of the unit that test/systemd/sandbox.sh cannot emulate: the
 * seccomp system call filter. strace records every system call Node makes
 * while doing what `ztproxy serve` does (cluster fork and IPC, a TLS-less
 * listener and client, an HTTP upstream, file reads, a DNS lookup, os and
 * process statistics), and each must be allowed by the unit's
 * SystemCallFilter= lines, expanded by systemd-analyze syscall-filter.
 * Once `serve` exists, tracing the real command is the next step.
 */
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, systemdDir, unitSection, which } from './unit-tools.js';
import { skipUnlessInstalled } from '../helpers/tools.js';

const strace = which('strace');
const analyze = which('systemd-analyze');
const skip =
  skipUnlessInstalled(strace !== undefined, 'strace', 'apt-get install strace') ||
  skipUnlessInstalled(analyze !== undefined, 'systemd-analyze', 'apt-get install systemd');

const WORKLOAD = `
import cluster from 'node:cluster'; import http from 'node:http'; import net from 'node:net';
import fs from 'node:fs/promises'; import dns from 'node:dns/promises'; import os from 'node:os';
if (cluster.isPrimary) {
  os.availableParallelism(); os.totalmem(); os.freemem(); os.loadavg();
  process.memoryUsage(); process.cpuUsage(); process.resourceUsage();
  process.on('SIGHUP', () => {});
  const w = cluster.fork();
  w.on('message', (m) => { console.log(m); w.kill(); });
} else {
  await fs.readFile(process.argv[1]);
  await dns.lookup('localhost');
  const up = http.createServer((q, r) => r.end('up')).listen(0, '127.0.0.1');
  await new Promise((r) => up.once('listening', r));
  const front = http.createServer((q, r) => {
    http.get({ host: '127.0.0.1', port: up.address().port }, (u) => u.pipe(r));
  }).listen(0, '127.0.0.1');
  await new Promise((r) => front.once('listening', r));
  http.get({ host: '127.0.0.1', port: front.address().port, agent: new http.Agent({ keepAlive: true }) }, (res) => {
    let b = ''; res.on('data', (c) => (b += c)); res.on('end', () => process.send(b));
  });
}
`;

/** Expands a syscall group (or name) into system call names with systemd-analyze. */
function expand(name: string, seen = new Set<string>()): string[] {
  if (!name.startsWith('@')) return [name];
  if (seen.has(name)) return [];
  seen.add(name);
  const out = run(analyze!, ['syscall-filter', name]).stdout;
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#') && l !== name)
    .flatMap((l) => expand(l, seen));
}

t.test('every system call of the workload passes SystemCallFilter=', { skip }, async (t) => {
  const allow = new Set<string>();
  const deny = new Set<string>();
  for (const [k, v] of unitSection(join(systemdDir, 'ztproxy.service'), 'Service')) {
    if (k !== 'SystemCallFilter') continue;
    const negate = v.startsWith('~');
    for (const item of v.replace(/^~/, '').split(/\s+/).filter(Boolean)) {
      for (const sc of expand(item)) (negate ? deny : allow).add(sc);
    }
  }
  t.ok(allow.size > 100, `the allow list expands (${allow.size} calls)`);

  const dir = t.testdir();
  const script = join(dir, 'workload.mjs');
  writeFileSync(script, WORKLOAD);
  const trace = join(dir, 'trace.txt');
  const r = run(strace!, ['-f', '-qq', '-o', trace, process.execPath, script, script]);
  t.equal(r.status, 0, 'workload ran under strace', { stderr: r.stderr });
  t.equal(r.stdout.trim(), 'up', 'through the cluster worker and the upstream');

  const used = new Set(
    [...readFileSync(trace, 'utf8').matchAll(/^\d+ +([a-z0-9_]+)\(/gm)].map((m) => m[1] ?? ''),
  );
  t.ok(used.size > 30, `traced ${used.size} distinct calls`);
  // Nothing is exempt: even the first execve runs under the filter in a unit.
  const blocked = [...used].filter((sc) => !allow.has(sc) || deny.has(sc)).sort();
  t.same(blocked, [], 'no call outside the filter');
});
