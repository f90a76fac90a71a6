/**
 * The metrics listener: a plain-HTTP server, apart from the mTLS port and on
 * loopback by default, serving Prometheus text on /metrics and the liveness
 * and readiness probes. It never sees client traffic, so it has its own small
 * limits (headers, timeouts, connections) and no TLS.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { ZtpError } from '../util/index.js';

/** The answer of a readiness check: `ok` decides 200 or 503; `checks` is shown in the body. */
export interface Readiness {
  ok: boolean;
  checks: Record<string, boolean>;
}

/** Options of {@link startMetricsListener}. Give exactly one of `registry` and `aggregate`. */
export interface MetricsListenerOptions {
  /** Address to bind. Default `127.0.0.1`: metrics reveal routes and traffic, keep them off public interfaces. */
  host?: string;
  /** Port to bind; `0` picks a free one (see `address()`). Default 9464. */
  port?: number;
  /** The registry of this process (single-process mode). */
  registry?: Registry;
  /** Produces the Prometheus text of all workers (cluster primary: `createPrimaryAggregator().metrics`). */
  aggregate?: () => Promise<string>;
  /** Readiness of the proxy; /readyz answers 503 when it returns `ok: false` or throws. Default: always ready. */
  ready?: () => Readiness;
  /** Called when producing /metrics fails (the scrape gets a 500); for logging. */
  onError?: (err: unknown) => void;
  /** How a bind error names this listener: the config key or flag that set the address. Default `metrics listener`. */
  name?: string;
}

/** A started metrics listener. */
export interface MetricsListener {
  /** The bound address (the real port when `port: 0` was asked for). */
  address(): { host: string; port: number };
  /** Stops listening and closes open scrape connections. Idempotent. */
  close(): Promise<void>;
}

/** Limits of the metrics listener. Scrapers send tiny requests; anything bigger is not a scraper. */
const MAX_HEADER_BYTES = 8192; // 8 KiB
const HEADERS_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 30_000; // above Prometheus' default scrape_timeout of 10s
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
const MAX_CONNECTIONS = 64;

/**
 * Starts the metrics listener and resolves once it is bound.
 *
 * Routes: `GET|HEAD /metrics` (Prometheus text, `Registry.PROMETHEUS_CONTENT_TYPE`),
 * `/healthz` (200 `ok` while the process runs), `/readyz` (200 or 503 with the
 * JSON `{ ok, checks }`). Other paths answer 404, other methods 405.
 *
 * @throws ZtpError `ZTP_INTERNAL` when neither or both of `registry`/`aggregate`
 *   are given; `ZTP_LISTEN` naming `name` and the address when it cannot be
 *   bound (in use, a privileged port).
 */
export async function startMetricsListener(options: MetricsListenerOptions): Promise<MetricsListener> {
  const { host = '127.0.0.1', port = 9464, registry, aggregate, ready, onError, name = 'metrics listener' } = options;
  if ((registry === undefined) === (aggregate === undefined)) {
    throw new ZtpError('ZTP_INTERNAL', 'metrics listener: give exactly one of registry and aggregate');
  }
  const collect = aggregate ?? (() => (registry as Registry).metrics());
  const contentType = registry?.contentType ?? Registry.PROMETHEUS_CONTENT_TYPE;

  const server = createServer(
    {
      maxHeaderSize: MAX_HEADER_BYTES,
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    },
    (req, res) => {
      handle(req, res, { collect, contentType, ready, onError }).catch((err: unknown) => {
        onError?.(err);
        if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
        else res.destroy();
      });
    },
  );
  server.maxConnections = MAX_CONNECTIONS;
  server.maxRequestsPerSocket = 1000;

  await new Promise<void>((resolve, reject) => {
    const onListenError = (err: Error): void => {
      reject(new ZtpError('ZTP_LISTEN', `${name} ${host}:${port}: cannot listen`, { cause: err }));
    };
    server.once('error', onListenError);
    server.listen({ host, port }, () => {
      server.off('error', onListenError);
      resolve();
    });
  });
  // No 'clientError' listener: node's default answers 400/408/431 and closes the socket.

  const bound = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    address: () => ({ host: bound.address, port: bound.port }),
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

interface Handler {
  collect: () => Promise<string>;
  contentType: string;
  ready: (() => Readiness) | undefined;
  onError: ((err: unknown) => void) | undefined;
}

async function handle(req: IncomingMessage, res: ServerResponse, h: Handler): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0];
  if (path !== '/metrics' && path !== '/healthz' && path !== '/readyz') {
    send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    return;
  }
  if (path === '/healthz') {
    send(res, 200, 'text/plain; charset=utf-8', 'ok\n');
  } else if (path === '/readyz') {
    let readiness: Readiness;
    try {
      readiness = h.ready?.() ?? { ok: true, checks: {} };
    } catch (err) {
      h.onError?.(err);
      readiness = { ok: false, checks: {} };
    }
    send(res, readiness.ok ? 200 : 503, 'application/json', JSON.stringify(readiness) + '\n');
  } else {
    send(res, 200, h.contentType, await h.collect());
  }
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  });
  // node:http drops the body of a HEAD response itself.
  res.end(body);
}
