/**
 * Shared setup of the hostile-input suite (test/integration/hostile-*.test.ts):
 * the real ProxyServer in-process on 127.0.0.1:0 with certificates from
 * test/helpers/pki.ts, a real upstream that records every request it sees
 * (so "never reached the upstream" is an assertion, not a hope), a pino
 * logger writing into an array, an isolated metrics registry, and clients:
 * https requests and raw TLS sockets that write bytes by hand.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Writable } from 'node:stream';
import tls from 'node:tls';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { resolveConfig, type ResolvedConfig } from '../../src/config/index.js';
import { createMetrics, type Metrics } from '../../src/metrics/index.js';
import { ProxyServer } from '../../src/proxy/server.js';
import type { Pki } from '../helpers/pki.js';

type Tap = { teardown(fn: () => unknown): void };

export interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  trailers: Record<string, string | undefined>;
  body: string;
}

export interface Upstream {
  readonly url: string;
  readonly seen: Recorded[];
}

/** A plain-HTTP upstream on loopback that answers 200 `ok` and records each request. */
export async function startUpstream(t: Tap): Promise<Upstream> {
  const seen: Recorded[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, trailers: req.trailers, body: Buffer.concat(chunks).toString('latin1') });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, seen };
}

export interface ProxyHandle {
  readonly server: ProxyServer;
  readonly port: number;
  readonly metrics: Metrics;
  readonly registry: Registry;
  /** Every log line written so far, parsed. */
  readonly logs: Record<string, unknown>[];
  readonly config: ResolvedConfig;
  readonly ca: Buffer;
}

export interface ProxyOptions {
  pki: Pki;
  upstream: Upstream;
  /** Routes; default one route `main` for every host and path. */
  routes?: Record<string, unknown>[];
  tls?: Record<string, unknown>;
  limits?: Record<string, unknown>;
  identityHeaders?: Record<string, unknown>;
  /** Extra client CA bundle file (replaces pki.caCert). */
  clientCA?: string;
  crl?: boolean;
  /** Session ticket keys (48 bytes), as a cluster shares them. */
  ticketKeys?: Buffer;
}

/** The raw (pre-validation) config object of {@link startProxy}. */
export function rawConfig(o: ProxyOptions): Record<string, unknown> {
  return {
    listen: '127.0.0.1:0',
    tls: { cert: o.pki.server.cert, key: o.pki.server.key, clientCA: o.clientCA ?? o.pki.caCert, ...(o.crl ? { crl: o.pki.crl } : {}), ...o.tls },
    routes: o.routes ?? [{ name: 'main', upstream: o.upstream.url }],
    ...(o.identityHeaders ? { identityHeaders: o.identityHeaders } : {}),
    metrics: { listen: false },
    log: { level: 'info', access: false },
    limits: { drainTimeoutMs: 100, ...o.limits },
  };
}

/** Starts ProxyServer in-process; closed at teardown. */
export async function startProxy(t: Tap, o: ProxyOptions): Promise<ProxyHandle> {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const log = pino({ level: 'info' }, sink);
  const registry = new Registry();
  const metrics = createMetrics(registry);
  const config = resolveConfig(rawConfig(o));
  const server = await ProxyServer.create(config, { log, metrics, ...(o.ticketKeys ? { ticketKeys: o.ticketKeys } : {}) });
  const { port } = await server.listen();
  t.teardown(() => server.close(0));
  return { server, port, metrics, registry, logs, config, ca: readFileSync(o.pki.caCert) };
}

export interface ClientCert {
  cert: string;
  key: string;
}

export interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTPS request through a fresh connection (no agent reuse). */
export function request(port: number, ca: Buffer, client: ClientCert | null, o: { path?: string; method?: string; headers?: Record<string, string | string[]>; servername?: string; body?: string; tls?: tls.ConnectionOptions } = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path: o.path ?? '/',
        method: o.method ?? 'GET',
        ca,
        servername: o.servername ?? 'localhost',
        ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}),
        headers: { host: o.servername ?? 'localhost', ...o.headers },
        agent: false,
        ...(o.tls as object),
      },
      (res) => {
        let body = '';
        res.setEncoding('latin1');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

/** Outcome of a TLS connection attempt: refused (error or closed before any byte of a response) or answered. */
export async function attempt(port: number, ca: Buffer, client: ClientCert | null, o: { servername?: string; path?: string; tls?: tls.ConnectionOptions } = {}): Promise<'refused' | number> {
  try {
    const r = await request(port, ca, client, o);
    return r.status;
  } catch {
    return 'refused';
  }
}

/**
 * Opens a TLS connection with `client`, writes `bytes` (each chunk after the
 * previous one, optionally with a pause), and resolves with everything the
 * server sent until it closed the connection or `idleMs` passed without data.
 */
export function raw(port: number, ca: Buffer, client: ClientCert, chunks: (string | Buffer)[], o: { idleMs?: number; servername?: string; pauseMs?: number; extra?: tls.ConnectionOptions } = {}): Promise<{ data: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, servername: o.servername ?? 'localhost', cert: readFileSync(client.cert), key: readFileSync(client.key), ALPNProtocols: ['http/1.1'], ...o.extra });
    let data = '';
    let timer: NodeJS.Timeout | undefined;
    const idle = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        s.destroy();
        resolve({ data, closed: false });
      }, o.idleMs ?? 1500);
    };
    s.setEncoding('latin1');
    s.on('data', (c: string) => {
      data += c;
      idle();
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ data, closed: true });
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return;
      clearTimeout(timer);
      reject(err);
    });
    s.once('secureConnect', async () => {
      for (const c of chunks) {
        if (s.destroyed) break;
        s.write(c);
        if (o.pauseMs) await new Promise((r) => setTimeout(r, o.pauseMs));
      }
      idle();
    });
  });
}

/** Status codes of the HTTP responses in a raw byte stream. */
export function statuses(data: string): number[] {
  return [...data.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
}

/** Value of one sample of the registry. */
export async function sample(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return NaN;
  const got = await m.get();
  const hit = got.values.find((v) => Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want));
  return hit?.value ?? 0;
}

/** Waits until `fn` is true (polling), up to `ms`. */
export async function until(fn: () => boolean | Promise<boolean>, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return fn();
}

/** True when the openssl CLI is on PATH. */
export const haveOpenssl = spawnSync('openssl', ['version'], { encoding: 'utf8' }).status === 0;

/** Runs openssl with `args` in `cwd`; throws with stderr on failure. */
export function openssl(cwd: string, args: string[], input?: string): string {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8', input: input ?? '', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
