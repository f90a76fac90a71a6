/**
 * Runs `node dist/main.js serve …` as a child process, the way systemd does,
 * and finds its ports from the log. Killed in t.teardown.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const MAIN = join(import.meta.dirname, '../../dist/main.js');
/** tap's loader must not leak into the child. */
export const CHILD_ENV = { ...process.env, NODE_OPTIONS: '' };

export interface ServeProcess {
  child: ChildProcess;
  port: number;
  metricsPort: number | null;
  /** Everything the process wrote to stdout so far. */
  output(): string;
  /** Resolves to the exit code. */
  exited: Promise<number | null>;
}

/** `env` adds to (or, with '', blanks) the child's environment. */
export async function startServe(t: { teardown(fn: () => unknown): void }, args: string[], env: Record<string, string> = {}): Promise<ServeProcess> {
  const child = spawn(process.execPath, [MAIN, 'serve', ...args], { env: { ...CHILD_ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const { port, metricsPort } = await new Promise<{ port: number; metricsPort: number | null }>((resolve, reject) => {
    const onData = () => {
      const m = /"listen":"[^"]*:(\d+)"/.exec(out) ?? /"ztproxy primary started"/.exec(out);
      if (!m) return;
      const mp = /"metrics":\{"host":"[^"]+","port":(\d+)\}/.exec(out);
      child.stdout!.off('data', onData);
      resolve({ port: m[1] ? Number(m[1]) : 0, metricsPort: mp ? Number(mp[1]) : null });
    };
    child.stdout!.on('data', onData);
    void exited.then((code) => reject(new Error(`serve exited early with ${code}:\n${out}`)));
  });
  return { child, port, metricsPort, output: () => out, exited };
}

/** Polls `fn` until it returns a truthy value (bounded). */
export async function until<T>(fn: () => Promise<T> | T, what: string, tries = 200, everyMs = 100): Promise<NonNullable<T>> {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Sum of the samples of `name` matching `labels` in a Prometheus text scrape. */
export async function scrape(port: number, name: string, labels: Record<string, string> = {}): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await res.text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** The child pids of `pid` (a cluster primary's workers); empty once it is gone. */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
