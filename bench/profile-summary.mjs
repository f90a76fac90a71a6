// Prints where a V8 .cpuprofile (node --cpu-prof) spends its time: the top frames by self time, and
// the same time grouped by file, so "which of our functions is hot" and "how much is Node core / undici /
// pino / ours" can both be read off one run. Self time = samples whose leaf frame is that function,
// weighted by the sampling intervals V8 recorded (timeDeltas), not by a nominal rate.
// --skip-ms drops the first milliseconds of the profile (process start-up: module loading, config,
// certificates), so a profile of a load run shows the load; the harness passes the time to "ready".
// Usage: node profile-summary.mjs FILE.cpuprofile [--top N] [--skip-ms MS]
import { readFileSync } from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const file = args.find((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1].startsWith('--')));
if (!file) {
  console.error('usage: node profile-summary.mjs FILE.cpuprofile [--top N]');
  process.exit(2);
}
const opt = (name) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : undefined);
const topN = opt('--top') || 30;
const skipUs = (opt('--skip-ms') ?? 0) * 1000;
const prof = JSON.parse(readFileSync(file, 'utf8'));

const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const selfUs = new Map();
let elapsed = 0;
for (let i = 0; i < prof.samples.length; i++) {
  elapsed += prof.timeDeltas[i] ?? 0;
  if (elapsed < skipUs) continue;
  const id = prof.samples[i];
  selfUs.set(id, (selfUs.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0));
}

/** Where a frame comes from: ours (dist/…), a package, Node core, or V8/native. */
function origin(url) {
  if (!url) return 'native';
  if (url.startsWith('node:')) return 'node core';
  const m = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (m) return m[1];
  const d = url.indexOf('/dist/');
  if (d >= 0) return 'ztproxy';
  return path.basename(url);
}

function short(url) {
  if (!url) return '';
  if (url.startsWith('node:')) return url;
  const d = url.indexOf('/dist/');
  if (d >= 0) return url.slice(d + 1);
  const m = url.match(/node_modules\/(.*)$/);
  return m ? m[1] : path.basename(url);
}

const frames = new Map();
const origins = new Map();
let total = 0;
let idle = 0;
for (const [id, us] of selfUs) {
  const n = byId.get(id);
  const cf = n.callFrame;
  total += us;
  if (cf.functionName === '(idle)') {
    idle += us;
    continue;
  }
  const key = `${cf.functionName || '(anonymous)'}  ${short(cf.url)}${cf.url ? ':' + (cf.lineNumber + 1) : ''}`;
  frames.set(key, (frames.get(key) ?? 0) + us);
  const o = cf.functionName === '(garbage collector)' ? 'GC' : cf.functionName === '(program)' ? '(program: V8/native, unattributed)' : origin(cf.url);
  origins.set(o, (origins.get(o) ?? 0) + us);
}
const busy = total - idle;
const pct = (us) => ((100 * us) / busy).toFixed(1).padStart(5) + ' %';
const ms = (us) => (us / 1000).toFixed(0).padStart(7) + ' ms';

console.log(`${path.basename(file)}: ${skipUs ? `first ${(skipUs / 1e6).toFixed(2)} s (start-up) skipped, ` : ''}${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s busy (${((100 * busy) / total).toFixed(0)} %); percentages are of busy time`);
console.log(`\ntop ${topN} frames by self time`);
for (const [k, us] of [...frames].sort((a, b) => b[1] - a[1]).slice(0, topN)) console.log(`${pct(us)} ${ms(us)}  ${k}`);
console.log('\nself time by origin');
for (const [k, us] of [...origins].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${pct(us)} ${ms(us)}  ${k}`);

// Inclusive time of ztproxy's own functions (time in the function and everything it calls).
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const incl = new Map();
for (const [id, us] of selfUs) {
  const seen = new Set();
  for (let p = id; p !== undefined; p = parent.get(p)) {
    const cf = byId.get(p).callFrame;
    if (origin(cf.url) !== 'ztproxy') continue;
    const key = `${cf.functionName || '(anonymous)'}  ${short(cf.url)}:${cf.lineNumber + 1}`;
    if (seen.has(key)) continue; // recursion counts once
    seen.add(key);
    incl.set(key, (incl.get(key) ?? 0) + us);
  }
}
console.log(`\nztproxy functions by inclusive time (top ${Math.min(topN, 15)})`);
for (const [k, us] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, Math.min(topN, 15))) console.log(`${pct(us)} ${ms(us)}  ${k}`);
