// Shared helpers of the macro bench: process-tree CPU and memory from /proc, ab and s_time output
// parsing, medians. Plain ESM so the bench needs no build step.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';

export const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

function statOf(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the ")" of the command name: 3 state, 4 ppid, … 14 utime, 15 stime.
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return null;
  }
}

/** `pid` and all its live descendants (nginx: master + worker). */
export function processTree(pid) {
  const kids = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const st = statOf(d);
    if (st === null) continue;
    if (!kids.has(st.ppid)) kids.set(st.ppid, []);
    kids.get(st.ppid).push(Number(d));
  }
  const out = [];
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop();
    out.push(p);
    for (const c of kids.get(p) ?? []) stack.push(c);
  }
  return out;
}

/** CPU seconds (user + system) used so far by the process tree of `pid`. */
export function cpuSeconds(pid) {
  let t = 0;
  for (const p of processTree(pid)) t += statOf(p)?.ticks ?? 0;
  return t / CLK_TCK;
}

function statusKB(pid, field) {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Memory of the tree: `peakKB` is the largest process's VmHWM (the worker), `rssKB` the sum of VmRSS. */
export function memory(pid) {
  let peakKB = 0;
  let rssKB = 0;
  let totalPeakKB = 0;
  for (const p of processTree(pid)) {
    const hwm = statusKB(p, 'VmHWM');
    peakKB = Math.max(peakKB, hwm);
    totalPeakKB += hwm;
    rssKB += statusKB(p, 'VmRSS');
  }
  return { peakKB, totalPeakKB, rssKB };
}

/** Parses ApacheBench's report; throws when it is not one. */
export function parseAb(out) {
  const num = (re) => {
    const m = out.match(re);
    return m ? Number(m[1]) : null;
  };
  const r = {
    complete: num(/^Complete requests:\s+(\d+)/m),
    failed: num(/^Failed requests:\s+(\d+)/m),
    non2xx: num(/^Non-2xx responses:\s+(\d+)/m) ?? 0,
    writeErrors: num(/^Write errors:\s+(\d+)/m) ?? 0,
    rps: num(/^Requests per second:\s+([\d.]+)/m),
    meanMs: num(/^Time per request:\s+([\d.]+) \[ms\] \(mean\)$/m),
    p50Ms: num(/^\s+50%\s+(\d+)/m),
    p99Ms: num(/^\s+99%\s+(\d+)/m),
    protocol: out.match(/^SSL\/TLS Protocol:\s+([^,\s]+)/m)?.[1] ?? '',
    keptAlive: num(/^Keep-Alive requests:\s+(\d+)/m) ?? 0,
  };
  if (r.complete === null || r.rps === null || r.failed === null) throw new Error(`unparseable ab output:\n${out}`);
  return r;
}

/** Parses `openssl s_time` ("N connections in T real seconds"); `reused` counts the "r" marks. */
export function parseSTime(out) {
  const m = out.match(/(\d+) connections in ([\d.]+) real seconds/);
  if (!m) throw new Error(`unparseable s_time output:\n${out}`);
  const conns = Number(m[1]);
  const secs = Number(m[2]);
  const bytes = Number(out.match(/(\d+) bytes read per connection/)?.[1] ?? 0);
  return { conns, secs, rate: conns / secs, bytesPerConn: bytes };
}

export const median = (xs) => {
  const a = xs.filter((x) => x !== null && Number.isFinite(x)).sort((x, y) => x - y);
  if (a.length === 0) return null;
  const h = a.length >> 1;
  return a.length % 2 ? a[h] : (a[h - 1] + a[h]) / 2;
};

/** Resolves once something accepts TCP on host:port, rejects after `ms`. */
export async function waitForPort(port, ms = 15_000, host = '127.0.0.1') {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = net.connect({ host, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listening on ${host}:${port} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Rejects when host:port is taken, so a stale proxy from another run is never measured by mistake. */
export function assertFree(port, host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', () => reject(new Error(`port ${port} is in use; set BASE_PORT`)));
    srv.listen(port, host, () => srv.close(() => resolve()));
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
