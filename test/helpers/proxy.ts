/**
 * Starts a real ztproxy in-process (ProxyServer on 127.0.0.1:0) and a real
 * recording upstream; both are closed by t.teardown.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import { resolveConfig } from '../../src/config/index.js';
import { createMetrics, type Metrics } from '../../src/metrics/index.js';
import { ProxyServer } from '../../src/proxy/server.js';
import type { Pki } from './pki.js';

type Teardown = { teardown(fn: () => unknown): void };

export interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  bodyBytes: number;
  bodySha256: string;
}

export interface RecordingUpstream {
  url: string;
  port: number;
  requests: Recorded[];
  server: http.Server;
}

/**
 * An upstream that records every request it receives and answers JSON with
 * what it saw. `handler` may answer instead (return true when it did).
 */
export async function startUpstream(t: Teardown, handler?: (req: http.IncomingMessage, res: http.ServerResponse, rec: Recorded) => boolean): Promise<RecordingUpstream> {
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      hash.update(c);
    });
    req.on('end', () => {
      const rec: Recorded = { method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, bodyBytes: bytes, bodySha256: hash.digest('hex') };
      requests.push(rec);
      if (handler?.(req, res, rec)) return;
      const body = JSON.stringify(rec);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  t.teardown(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { url: `http://127.0.0.1:${port}`, port, requests, server };
}

export interface RunningProxy {
  port: number;
  server: ProxyServer;
  metrics: Metrics;
  registry: Registry;
  /** Parsed pino lines written so far. */
  logs: Record<string, unknown>[];
  log: Logger;
}

/** Collects pino output in memory (synchronously, so tests can read it at once). */
export function memoryLogger(level = 'info'): { log: Logger; logs: Record<string, unknown>[] } {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino({ level }, sink), logs };
}

/** Minimal config for `pki` in front of `upstreamUrl`, merged with `extra` (top-level keys replace). */
export function baseConfig(pki: Pki, upstreamUrl: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    listen: '127.0.0.1:0',
    tls: { cert: pki.server.cert, key: pki.server.key, clientCA: pki.caCert },
    routes: [{ name: 'default', upstream: upstreamUrl }],
    metrics: { listen: false },
    ...extra,
  };
}

/** Starts ProxyServer with `raw` config on 127.0.0.1:0. */
export async function startProxy(t: Teardown, raw: Record<string, unknown>): Promise<RunningProxy> {
  const registry = new Registry();
  const metrics = createMetrics(registry);
  const { log, logs } = memoryLogger();
  const server = await ProxyServer.create(resolveConfig(raw), { log, metrics });
  const { port } = await server.listen();
  t.teardown(() => server.close(0));
  return { port, server, metrics, registry, logs, log };
}

export interface ClientCert {
  cert: string;
  key: string;
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One HTTPS request with a client certificate (no connection reuse unless `agent` is given). */
export function request(port: number, caCert: string, client: ClientCert | null, opts: https.RequestOptions & { body?: Buffer | string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const { body, ...rest } = opts;
    const req = https.request(
      {
        host: '127.0.0.1',
        servername: 'localhost',
        port,
        path: '/',
        method: 'GET',
        ca: readFileSync(caCert),
        ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}),
        agent: false,
        ...rest,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Reads one metric sample's value from a registry ("name{a="b"}" must match exactly), 0 when absent. */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const all = await registry.getMetricsAsJSON();
  const m = all.find((x) => x.name === name);
  if (!m) return 0;
  const want = Object.entries(labels);
  let sum = 0;
  for (const v of m.values as { value: number; labels: Record<string, string | number> }[]) {
    if (want.every(([k, val]) => String(v.labels[k]) === val)) sum += v.value;
  }
  return sum;
}
