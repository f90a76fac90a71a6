/**
 * A real nginx for tests, the oracle for nginx-compatible behaviour:
 *
 *   const ngx = await startNginx(t, { dir: t.testdir(), http: (port) => `server { listen 127.0.0.1:${port} ssl; … }` })
 *   // ngx.port, ngx.stop(); stopped by t.teardown as well
 *
 * It runs in the foreground (`daemon off`) with one worker, its prefix,
 * pid, temp paths and error log inside `dir`, on a free 127.0.0.1 port.
 * Tests that need it skip with {@link nginxSkip} when it is not installed.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { skipUnlessInstalled } from './tools.js';

/** The nginx binary: $NGINX or /usr/sbin/nginx. */
export const NGINX = process.env.NGINX ?? '/usr/sbin/nginx';

/** `false` when nginx is installed, else the skip reason. */
export const nginxSkip: false | string = skipUnlessInstalled(existsSync(NGINX), 'nginx', NGINX);

/** The part of tap's Test this helper uses. */
interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface StartNginxOptions {
  /** Prefix directory: nginx.conf, nginx.pid, error.log and tmp/ go here. */
  dir: string;
  /** The contents of the `http {}` block for the chosen port (access_log off and temp paths are set already). */
  http: (port: number) => string;
}

export interface RunningNginx {
  port: number;
  /** The error log so far (for assertion messages). */
  errorLog(): string;
  /** SIGTERM and wait for the exit; idempotent. */
  stop(): Promise<void>;
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once 127.0.0.1:port accepts a TCP connection; rejects when `exited()` turns true or after ~10 s. */
export async function waitForPort(port: number, exited: () => string | undefined): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const why = exited();
    if (why !== undefined) throw new Error(why);
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port}`);
}

/** Writes `dir/nginx.conf`, starts nginx and waits until it listens. Registers `stop` with `t.teardown`. */
export async function startNginx(t: Teardown, opts: StartNginxOptions): Promise<RunningNginx> {
  const { dir } = opts;
  const port = await freePort();
  const tmp = join(dir, 'tmp');
  const conf = `worker_processes 1;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${tmp}; proxy_temp_path ${tmp}; fastcgi_temp_path ${tmp}; uwsgi_temp_path ${tmp}; scgi_temp_path ${tmp};
${opts.http(port)}
}
`;
  const confPath = join(dir, 'nginx.conf');
  const errorLogPath = join(dir, 'error.log');
  writeFileSync(confPath, conf);
  const child = spawn(NGINX, ['-p', dir, '-c', confPath, '-g', `daemon off; pid ${join(dir, 'nginx.pid')}; error_log ${errorLogPath};`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const errorLog = (): string => (existsSync(errorLogPath) ? readFileSync(errorLogPath, 'utf8') : '');
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const done = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await done;
  };
  t.teardown(stop);
  await waitForPort(port, () => (child.exitCode !== null ? `nginx exited ${child.exitCode}: ${stderr}${errorLog()}` : undefined));
  return { port, errorLog, stop };
}
