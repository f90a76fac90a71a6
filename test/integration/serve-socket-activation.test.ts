// systemd socket activation (ztproxy.socket): the listening socket arrives
// as fd 3 with LISTEN_PID/LISTEN_FDS, and serve adopts it instead of
// binding `listen`, in one process and with two workers (the primary adopts
// it; the workers share it through cluster). The test binds the socket
// itself and passes it the way systemd does (fd 3, LISTEN_PID of the exec'd
// process), then serves an mTLS request through it.
import { spawn } from 'node:child_process';
import net from 'node:net';
import t, { type Test } from 'tap';
import { CHILD_ENV, MAIN, until } from '../helpers/cli.js';
import { makePki } from '../helpers/pki.js';
import { request, startUpstream } from '../helpers/proxy.js';

/** A listening socket bound here, as systemd binds ztproxy.socket; its fd for the child. */
async function bindLikeSystemd(): Promise<{ port: number; fd: number; close(): void }> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen({ host: '127.0.0.1', port: 0, backlog: 64 }, r));
  // The raw fd of the listening socket (libuv exposes it on Unix); the child gets a copy as fd 3.
  const fd = (s as unknown as { _handle: { fd: number } })._handle.fd;
  return { port: (s.address() as net.AddressInfo).port, fd, close: () => s.close() };
}

async function activated(t: Test, workers: string): Promise<void> {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const alice = await pki.client('alice');
  const up = await startUpstream(t);
  const socket = await bindLikeSystemd();
  t.teardown(() => socket.close());
  // LISTEN_PID must be the pid of the process that reads it: `exec` keeps the shell's.
  const child = spawn(
    '/bin/sh',
    ['-c', 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"', process.execPath, MAIN, 'serve', '--listen', '127.0.0.1:0', '--metrics-listen', 'off', '--workers', workers, '--cert', pki.server.cert, '--key', pki.server.key, '--client-ca', pki.caCert, '--upstream', up.url],
    { env: CHILD_ENV, stdio: ['ignore', 'pipe', 'pipe', socket.fd] },
  );
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  // The child holds its copy; from now on only it accepts on the socket.
  socket.close();
  const want = Number(workers);
  await until(() => (out.match(/"msg":"ztproxy listening"/g) ?? []).length >= want || child.exitCode !== null, `${want} listening`, 600);
  const ports = [...out.matchAll(/"listen":"127\.0\.0\.1:(\d+)"[^\n]*"msg":"ztproxy listening"/g)].map((m) => Number(m[1]));
  t.same(ports, Array(want).fill(socket.port), `every process listens on the activated socket (${out.slice(-400)})`);
  for (let i = 0; i < 4; i++) t.equal((await request(socket.port, pki.caCert, alice)).status, 200, `request ${i} through the activated socket`);
  t.equal(up.requests.length, 4);
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'drains and exits 0');
}

t.test('one process adopts the activated socket', (t) => activated(t, '1'));
t.test('a primary adopts it and its two workers share it', (t) => activated(t, '2'));
