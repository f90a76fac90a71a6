/**
 * The upstream side of the differential test: real frameworks, started once,
 * and a fan-out upstream ("tee") in front of them.
 *
 * ztproxy forwards each request once, to the tee port of the route it chose
 * (one port per ztproxy route, so which route forwarded a request is a fact,
 * not a guess). The tee records the request's case id, routes it with the
 * Node routers in-process (frameworks/node-routers.ts) and replays its
 * request line and Host byte for byte to each external framework (Go
 * net/http ServeMux, gunicorn, wsgiref), each of which answers with the route
 * it matched. The tee answers 200 with all of it as JSON, so any other status
 * the client sees is ztproxy's own.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeRoutes, type FrameworkRoute } from './frameworks/node-routers.js';

type Teardown = { teardown(fn: () => unknown): void };

const HERE = fileURLToPath(new URL('./frameworks/', import.meta.url));

/** The ztproxy routes of the test, each forwarding to its own tee port. */
export const ZT_ROUTES = ['vhost-admin', 'admin', 'public'] as const;
export type ZtRoute = (typeof ZT_ROUTES)[number];

function present(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore', timeout: 30_000 }).status === 0;
}

export const HAVE = {
  go: present('go', ['version']),
  gunicorn: present('gunicorn', ['--version']),
  python3: present('python3', ['--version']),
};

/** Spawns `cmd`, resolves with the port it prints (matched by `re` on stdout or stderr); killed by PID at teardown. */
async function spawnServer(t: Teardown, name: string, cmd: string, args: string[], re: RegExp, env: NodeJS.ProcessEnv = {}): Promise<number> {
  // stdin stays open (never written): each server exits when it closes, so a killed test leaves none behind.
  const child: ChildProcess = spawn(cmd, args, { cwd: HERE, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const slow = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(slow);
    }
  });
  let out = '';
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 60 s:\n${out}`)), 60_000);
    const onData = (c: Buffer) => {
      out += c.toString();
      const m = re.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', onData).resume();
        child.stderr!.off('data', onData).resume();
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}) before listening:\n${out}`));
    });
  });
}

/**
 * Builds frameworks/servemux.go into `dir` and starts it. Standard library
 * only, nothing downloaded (GOPROXY=off, GOPATH mode); with cgo left on, the
 * build links Debian's prebuilt standard library instead of compiling it
 * (CGO_ENABLED=0 would rebuild all of it: a minute on a busy machine).
 */
export async function startGo(t: Teardown, dir: string): Promise<number> {
  const bin = join(dir, 'servemux');
  const env = { ...process.env, GOCACHE: join(dir, 'gocache'), GOPATH: join(dir, 'gopath'), GO111MODULE: 'off', GOPROXY: 'off', GOFLAGS: '' };
  const child = spawn('go', ['build', '-o', bin, join(HERE, 'servemux.go')], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve, reject) => child.once('error', reject).once('close', resolve));
  if (code !== 0) throw new Error(`go build failed (${code}): ${stderr}`);
  return spawnServer(t, 'go servemux', bin, [], /listening (\d+)/);
}

/** gunicorn (sync worker) serving frameworks/wsgi_app.py. */
export function startGunicorn(t: Teardown): Promise<number> {
  return spawnServer(t, 'gunicorn', 'gunicorn', ['--chdir', HERE, '-b', '127.0.0.1:0', '-w', '1', '--log-level', 'info', 'wsgi_app:app'], /Listening at: http:\/\/127\.0\.0\.1:(\d+)/);
}

/** The standard library's wsgiref serving frameworks/wsgi_app.py. */
export function startWsgiref(t: Teardown): Promise<number> {
  return spawnServer(t, 'wsgiref', 'python3', [join(HERE, 'wsgi_app.py')], /listening (\d+)/);
}

/** Writes one request (request line and Host exactly as given) to 127.0.0.1:`port`; resolves with the status and body once the server closes (Connection: close; no half-close, which node:http answers by aborting the request). */
function rawGet(port: number, target: string, host: string | undefined): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let failure: Error | null = null;
    // A framework that is gone or hangs fails the case (the tee answers 502), never passes as "refused".
    const timer = setTimeout(() => s.destroy(new Error(`no answer from 127.0.0.1:${port} within 45 s`)), 45_000);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', (err) => (failure = err));
    s.on('close', () => {
      clearTimeout(timer);
      if (failure !== null && (chunks.length === 0 || /timeout|within/.test(failure.message))) return reject(failure);
      const text = Buffer.concat(chunks).toString('latin1');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
    s.write(Buffer.from(`GET ${target} HTTP/1.1\r\n${host === undefined ? '' : `Host: ${host}\r\n`}Connection: close\r\n\r\n`, 'latin1'));
  });
}

/** The route a framework reports for one request: its JSON answer, `redirect` for a 3xx, `refused` for anything else. */
async function replay(port: number, target: string, host: string | undefined): Promise<FrameworkRoute> {
  const { status, body } = await rawGet(port, target, host);
  if (status === 301 || status === 302 || status === 307 || status === 308) return 'redirect';
  if (status !== 200) return 'refused';
  try {
    return (JSON.parse(body) as { route: FrameworkRoute }).route;
  } catch {
    return 'refused';
  }
}

/** Asks the tee directly (no proxy) how every framework routes `target` with `host`. */
export async function askTee(teeUrl: string, target: string, host: string): Promise<TeeAnswer> {
  const { status, body } = await rawGet(Number(new URL(teeUrl).port), target, host);
  if (status !== 200) throw new Error(`tee answered ${status}`);
  return JSON.parse(body) as TeeAnswer;
}

export interface TeeAnswer {
  tee: true;
  /** The ztproxy route whose upstream port received the request. */
  zt: ZtRoute;
  /** Request line target and Host as the upstream received them. */
  target: string;
  host: string | null;
  /** Route each framework reports for it. */
  routes: Record<string, FrameworkRoute>;
}

export interface Tee {
  urls: Record<ZtRoute, string>;
  /** Case ids (`x-diff-case`) of every request that reached the tee. */
  seen: Set<string>;
  /** Frameworks the tee consults: the Node routers and the external ones started. */
  frameworks: string[];
}

/** Starts the tee on one port per ztproxy route, fanning out to `external` (framework name → port). */
export async function startTee(t: Teardown, external: Record<string, number>): Promise<Tee> {
  const seen = new Set<string>();
  const urls = {} as Record<ZtRoute, string>;
  for (const zt of ZT_ROUTES) {
    const server = http.createServer(async (req, res) => {
      const id = req.headers['x-diff-case'];
      if (typeof id === 'string') seen.add(id);
      let host: string | undefined;
      for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.toLowerCase() === 'host') (host ??= req.rawHeaders[i + 1]);
      const target = req.url ?? '';
      const routes = nodeRoutes(target, host);
      let answers;
      try {
        answers = await Promise.all(Object.entries(external).map(async ([name, port]) => [name, await replay(port, target, host)] as const));
      } catch (err) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`tee: ${(err as Error).message}`);
        return;
      }
      for (const [name, route] of answers) routes[name] = route;
      const body = JSON.stringify({ tee: true, zt, target, host: host ?? null, routes } satisfies TeeAnswer);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.teardown(
      () =>
        new Promise<void>((r) => {
          server.closeAllConnections();
          server.close(() => r());
        }),
    );
    urls[zt] = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  }
  return { urls, seen, frameworks: [...Object.keys(nodeRoutes('/', 'localhost')), ...Object.keys(external)] };
}
