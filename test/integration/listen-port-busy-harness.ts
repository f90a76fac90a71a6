/**
 * Shared by serve-listen-port-busy*.test.ts: a port held by the test, and
 * `serve` run to its exit against it.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import type { Test } from 'tap';
import { CHILD_ENV, MAIN } from '../helpers/cli.js';
import { makePki } from '../helpers/pki.js';

/** Holds 127.0.0.1:<some free port> for the whole test. */
async function occupy(t: Test): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => s.close(() => r())));
  return (s.address() as net.AddressInfo).port;
}

/** Runs serve to its exit; one still running after a minute (restarting workers into the port) is killed: exit null. */
function serveToExit(t: Test, args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [MAIN, 'serve', ...args], { env: CHILD_ENV, stdio: ['ignore', 'ignore', 'pipe'] });
  const running = () => child.exitCode === null && child.signalCode === null;
  t.teardown(() => {
    if (running()) child.kill('SIGKILL');
  });
  const bound = setTimeout(() => running() && child.kill('SIGKILL'), 60_000);
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(bound);
      resolve({ code, stderr });
    }),
  );
}

export interface BusyPort {
  /** The held port. */
  readonly busy: number;
  /** Quick-start flags for TLS material and an upstream. */
  readonly tlsFlags: string[];
  /** Writes a config file with the TLS material, one route and `extra` YAML lines. */
  config(extra: string): string;
}

export async function busyPort(t: Test): Promise<BusyPort> {
  const dir = t.testdir();
  const pki = await makePki(dir);
  let n = 0;
  return {
    busy: await occupy(t),
    tlsFlags: ['--cert', pki.server.cert, '--key', pki.server.key, '--client-ca', pki.caCert, '--upstream', 'http://127.0.0.1:9'],
    config(extra) {
      const file = join(dir, `ztproxy-${n++}.yaml`);
      writeFileSync(file, `tls:\n  cert: ${pki.server.cert}\n  key: ${pki.server.key}\n  clientCA: ${pki.caCert}\nroutes:\n  - name: api\n    upstream: http://127.0.0.1:9\n${extra}`);
      return file;
    },
  };
}

/** Runs serve with `args` and asserts exit 1 with `error: <names>: cannot listen: …EADDRINUSE…`. */
export async function assertListenError(t: Test, name: string, args: string[], names: string): Promise<void> {
  const r = await serveToExit(t, args);
  t.equal(r.code, 1, `${name}: exit 1 (ZTP_LISTEN is a runtime failure)`);
  const first = r.stderr.split('\n').find((l) => l.startsWith('error: ')) ?? r.stderr;
  const expected = `error: ${names}: cannot listen`;
  t.equal(first.slice(0, expected.length), expected, `${name}: names the key and the address`);
  t.match(first, /EADDRINUSE/, `${name}: and the cause`);
}
