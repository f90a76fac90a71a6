/**
 * Shared by the test/systemd tests: locating tools, running them, reading
 * unit files, and staging test copies of the units whose ExecStart exists.
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The repository root (this file is test/systemd/unit-tools.ts). */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const systemdDir = join(repoRoot, 'systemd');
export const distMain = join(repoRoot, 'dist', 'main.js');

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (never throws; a missing binary gives status null). */
export function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}): RunResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000, ...opts });
  return {
    status: r.status,
    signal: r.signal,
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? '') + (r.error ? `\n${r.error.message}` : ''),
  };
}

/** Absolute path of a command on PATH (plus the sbin directories), or undefined. */
export function which(cmd: string): string | undefined {
  const path = `${process.env.PATH ?? ''}:/usr/sbin:/sbin:/usr/bin:/bin`;
  for (const dir of path.split(':')) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return undefined;
}

/** The major version of systemd-analyze, or undefined when it cannot be run. */
export function systemdVersion(analyze: string): number | undefined {
  const m = /^systemd (\d+)/m.exec(run(analyze, ['--version']).stdout);
  return m ? Number(m[1]) : undefined;
}

/** Every `Key=value` of one section of a unit file, in order (a key may repeat). */
export function unitSection(file: string, section: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let current = '';
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = header[1] ?? '';
      continue;
    }
    const eq = line.indexOf('=');
    if (current === section && eq > 0) out.push([line.slice(0, eq), line.slice(eq + 1)]);
  }
  return out;
}

/** The last value of a key in a section (systemd's rule for single-valued keys). */
export function unitValue(file: string, section: string, key: string): string | undefined {
  return unitSection(file, section).filter(([k]) => k === key).pop()?.[1];
}

/** A unit's `Environment=NAME=value` lines of [Service] as a record (a later line for the same name wins, as in systemd). */
export function unitEnvironment(file: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of unitSection(file, 'Service')) {
    const eq = v.indexOf('=');
    if (k === 'Environment' && eq > 0) env[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return env;
}

export interface StagedUnits {
  /** Directory holding ztproxy.service and ztproxy.socket, for SYSTEMD_UNIT_PATH. */
  unitDir: string;
  service: string;
  socket: string;
  /** The launcher that replaced /usr/bin/ztproxy. */
  launcher: string;
}

/**
 * Copies the units into `dir` with ExecStart's /usr/bin/ztproxy replaced by
 * `dir/bin/ztproxy`, a launcher that execs this checkout's dist/main.js with
 * the running node, which is what npm's bin link amounts to after
 * `npm install -g --prefix /usr`. systemd-analyze verify insists that the
 * ExecStart binary exists and is executable, and the repo's unit names the
 * installed path. With `socketDropIn`, systemd/ztproxy-socket.conf is added
 * as ztproxy.service.d/socket.conf.
 */
export function stageUnits(dir: string, opts: { socketDropIn?: boolean } = {}): StagedUnits {
  const unitDir = join(dir, 'units');
  mkdirSync(join(dir, 'bin'), { recursive: true });
  mkdirSync(unitDir, { recursive: true });
  const launcher = join(dir, 'bin', 'ztproxy');
  writeFileSync(launcher, `#!/bin/sh\nexec '${process.execPath}' '${distMain}' "$@"\n`);
  chmodSync(launcher, 0o755);
  const service = join(unitDir, 'ztproxy.service');
  const text = readFileSync(join(systemdDir, 'ztproxy.service'), 'utf8');
  writeFileSync(service, text.replaceAll('/usr/bin/ztproxy', launcher));
  const socket = join(unitDir, 'ztproxy.socket');
  copyFileSync(join(systemdDir, 'ztproxy.socket'), socket);
  if (opts.socketDropIn) {
    mkdirSync(join(unitDir, 'ztproxy.service.d'));
    copyFileSync(join(systemdDir, 'ztproxy-socket.conf'), join(unitDir, 'ztproxy.service.d', 'socket.conf'));
  }
  return { unitDir, service, socket, launcher };
}

/** The exposure number from `systemd-analyze security` output, or undefined. */
export function parseExposure(output: string, unit: string): number | undefined {
  const m = new RegExp(`Overall exposure level for ${unit.replace('.', '\\.')}: (\\d+(?:\\.\\d+)?)`).exec(
    output,
  );
  return m ? Number(m[1]) : undefined;
}

/** What test/helpers/pki.ts is expected to export (typed here so typecheck passes before it exists). */
export interface Pki {
  caCert: string;
  server: { cert: string; key: string };
  client(name: string): Promise<{ cert: string; key: string }>;
}

/** Loads makePki from test/helpers/pki.ts, or returns why it cannot. */
export async function loadMakePki(): Promise<((dir: string) => Promise<Pki>) | string> {
  const file = join(repoRoot, 'test', 'helpers', 'pki.ts');
  if (!existsSync(file)) return 'test/helpers/pki.ts does not exist yet';
  const mod = (await import(pathToFileURL(file).href)) as { makePki?: (dir: string) => Promise<Pki> };
  return typeof mod.makePki === 'function' ? mod.makePki : 'test/helpers/pki.ts exports no makePki';
}

/** PEM text of a makePki value, which may be PEM itself or a path to it. */
export function pem(value: string): string {
  return value.includes('-----BEGIN') ? value : readFileSync(value, 'utf8');
}

/** Whether `ztproxy serve --help` (built dist) lists every one of `flags`; the missing ones otherwise. */
export function serveFlagsMissing(flags: string[]): string[] {
  if (!existsSync(distMain)) return flags;
  const help = run(process.execPath, [distMain, 'serve', '--help']);
  return flags.filter((f) => !help.stdout.includes(f));
}

/** Whether the dynamic loader resolves `soname` (ldconfig's cache, as ld.so reads it for a bare LD_PRELOAD name). */
export function loaderFinds(soname: string): boolean {
  const r = run(existsSync('/sbin/ldconfig') ? '/sbin/ldconfig' : 'ldconfig', ['-p']);
  return r.status === 0 && r.stdout.split('\n').some((l) => l.trim().startsWith(`${soname} `));
}
