/**
 * One Upgrade on HTTP/1.1 (WebSocket or any other protocol but h2c), after
 * mTLS and the route's policy: the upgrade request goes upstream through the
 * route's undici Pool with the identity headers; on 101 both directions are
 * piped until either side closes or nothing moves for
 * `limits.upgradeIdleTimeoutMs`. An upstream that refuses the upgrade has its
 * answer relayed (connection closed after it); failures map to 502/504 like
 * plain requests. Counted as a request with its status when the upstream
 * answers, logged as one access line when the connection ends.
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { ClientConnection } from './connection.js';
import { mapUpstreamError } from './error-map.js';
import { downstreamResponseHeaders } from './headers.js';
import type { RouteRuntime } from './runtime.js';

const TOKEN_LIST = /^[!#$%&'*+.^_`|~0-9A-Za-z/-]+(?:[ \t]*,[ \t]*[!#$%&'*+.^_`|~0-9A-Za-z/-]+)*$/;
/** Headers of a 101 that concern this hop only. */
const SWITCH_DROP = new Set(['keep-alive', 'proxy-connection', 'transfer-encoding', 'content-length', 'x-request-id']);

/** Why an upgrade request is refused before it goes upstream (400), or null. */
export function upgradeProblem(req: IncomingMessage): string | null {
  const up = req.headers.upgrade;
  if (typeof up !== 'string' || !TOKEN_LIST.test(up.trim())) return 'malformed Upgrade header';
  // h2c through a proxy would open a request channel past ztproxy's routing and policy (h2c smuggling).
  if (up.split(',').some((p) => p.trim().toLowerCase().startsWith('h2c'))) return 'upgrade to h2c is not proxied';
  if (req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0') return 'upgrade requests with a body are not proxied';
  return null;
}

/** Writes a small JSON error on a raw (not yet upgraded) connection and closes it. */
export function sendRawError(socket: Duplex, status: number, requestId: string, message = STATUS_CODES[status]?.toLowerCase() ?? 'error'): void {
  if (socket.destroyed || !socket.writable) return;
  const body = JSON.stringify({ error: message, status, requestId }) + '\n';
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `x-request-id: ${requestId}\r\nconnection: close\r\n\r\n${body}`,
  );
}

function headerBlock(pairs: readonly string[]): string {
  let s = '';
  for (let i = 0; i < pairs.length; i += 2) s += `${pairs[i]}: ${pairs[i + 1]}\r\n`;
  return s;
}

export interface UpgradeContext {
  readonly accessLog: boolean;
  readonly idleTimeoutMs: number;
}

export class UpgradeExchange implements Dispatcher.DispatchHandler {
  readonly #req: IncomingMessage;
  readonly #client: Socket;
  readonly #head: Buffer;
  readonly #conn: ClientConnection;
  readonly #rr: RouteRuntime;
  readonly #requestId: string;
  readonly #host: string;
  readonly #path: string;
  readonly #ctx: UpgradeContext;
  readonly #t0: number;
  readonly #bytesIn0: number;
  readonly #bytesOut0: number;
  #opts: Dispatcher.DispatchOptions | null = null;
  #origin = -1;
  #attempts = 0;
  #abort: ((err?: Error) => void) | null = null;
  #status = 0;
  #answered = false;
  #upstream: Duplex | null = null;
  #resume: (() => void) | null = null;
  #logged = false;

  constructor(req: IncomingMessage, client: Socket, head: Buffer, conn: ClientConnection, rr: RouteRuntime, requestId: string, host: string, path: string, ctx: UpgradeContext, t0: number) {
    this.#req = req;
    this.#client = client;
    this.#head = head;
    this.#conn = conn;
    this.#rr = rr;
    this.#requestId = requestId;
    this.#host = host;
    this.#path = path;
    this.#ctx = ctx;
    this.#t0 = t0;
    this.#bytesIn0 = client.bytesRead;
    this.#bytesOut0 = client.bytesWritten;
    client.on('error', () => client.destroy());
    client.once('close', this.#onClientClose);
  }

  /** Sends the upgrade request upstream with `headers` (hop-by-hop and spoofed identity headers already removed). */
  start(headers: string[]): void {
    this.#opts = { method: this.#req.method as 'GET', path: this.#path, headers, body: null, upgrade: this.#req.headers.upgrade!.trim() };
    this.#dispatch();
  }

  #dispatch(): void {
    const up = this.#rr.upstream;
    this.#origin = up.pick();
    this.#attempts++;
    up.pool(this.#origin).dispatch(this.#opts!, this);
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
    if (this.#client.destroyed) abort(new Error('client closed the connection'));
  }

  #answer(status: number): void {
    this.#answered = true;
    this.#status = status;
    this.#rr.upstream.markUp(this.#origin);
    this.#rr.countRequest(status);
    this.#rr.duration.observe((performance.now() - this.#t0) / 1000); // time to the upstream's answer, not the tunnel's lifetime
  }

  onUpgrade(statusCode: number, rawHeaders: Buffer[] | string[] | null, upstream: Duplex): void {
    const client = this.#client;
    this.#answer(statusCode);
    this.#upstream = upstream;
    if (client.destroyed) {
      upstream.destroy();
      return;
    }
    const out: string[] = [];
    const raw = rawHeaders ?? [];
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toString();
      if (!SWITCH_DROP.has(name.toLowerCase())) out.push(name, raw[i + 1]!.toString());
    }
    out.push('x-request-id', this.#requestId);
    client.write(`HTTP/1.1 101 Switching Protocols\r\n${headerBlock(out)}\r\n`);
    if (this.#head.length > 0) upstream.write(this.#head);
    const idle = this.#ctx.idleTimeoutMs;
    const onIdle = () => {
      this.#conn.log.debug({ reqId: this.#requestId, idleTimeoutMs: idle }, 'upgraded connection idle, closed');
      client.destroy();
      upstream.destroy();
    };
    client.setTimeout(idle, onIdle);
    (upstream as Socket).setTimeout?.(idle, onIdle);
    upstream.on('error', () => client.destroy());
    upstream.once('close', () => client.end());
    client.once('close', () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }

  // A refused upgrade: the upstream answered with a plain response, relayed as such.
  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode < 200) return true;
    this.#answer(statusCode);
    this.#resume = resume;
    const headers = downstreamResponseHeaders(rawHeaders, this.#requestId);
    this.#client.write(`HTTP/1.1 ${statusCode} ${statusText || STATUS_CODES[statusCode] || ''}\r\n${headerBlock(headers)}connection: close\r\n\r\n`);
    return true;
  }

  onData(chunk: Buffer): boolean {
    const ok = this.#client.write(chunk);
    if (!ok && this.#resume !== null) this.#client.once('drain', this.#resume);
    return ok;
  }

  onComplete(): void {
    this.#client.end();
  }

  onError(err: Error): void {
    const client = this.#client;
    const m = mapUpstreamError(err);
    const another = this.#rr.upstream.failed(this.#origin, m.connectFailed, this.#attempts);
    if (client.destroyed) return;
    if (another && !this.#answered) {
      this.#dispatch();
      return;
    }
    this.#rr.countUpstreamError(m.kind);
    this.#conn.log.warn({ reqId: this.#requestId, route: this.#rr.route.name, upstream: this.#rr.upstream.origins[this.#origin], kind: m.kind, err }, 'upstream request failed');
    if (this.#answered) {
      client.destroy();
      return;
    }
    this.#answer(m.status);
    sendRawError(client, m.status, this.#requestId, m.status === 504 ? 'upstream timed out' : 'upstream unavailable');
  }

  #onClientClose = (): void => {
    if (!this.#answered && this.#abort !== null) this.#abort(new Error('client closed the connection'));
    this.#upstream?.destroy();
    if (this.#logged) return;
    this.#logged = true;
    if (!this.#answered) this.#rr.countRequest(499);
    if (!this.#ctx.accessLog) return;
    const id = this.#conn.identity;
    this.#conn.logAccess({
      reqId: this.#requestId,
      dn: id.subjectDN,
      serial: id.serial,
      method: this.#req.method,
      httpVersion: this.#req.httpVersion,
      upgrade: this.#opts?.upgrade ?? null,
      host: this.#host,
      path: this.#path,
      status: this.#answered ? this.#status : 499,
      bytesIn: this.#client.bytesRead - this.#bytesIn0,
      bytesOut: this.#client.bytesWritten - this.#bytesOut0,
      route: this.#rr.route.name,
      upstream: this.#rr.upstream.origins[this.#origin],
      durationMs: Math.round((performance.now() - this.#t0) * 1000) / 1000,
    });
  };
}
