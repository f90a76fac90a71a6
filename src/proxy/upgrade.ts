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
import { UpstreamExchange, type Target } from './exchange.js';
import { downstreamResponseHeaders } from './headers.js';
import { sendRawError } from './respond.js';

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

function headerBlock(pairs: readonly string[]): string {
  let s = '';
  for (let i = 0; i < pairs.length; i += 2) s += `${pairs[i]}: ${pairs[i + 1]}\r\n`;
  return s;
}

export interface UpgradeContext {
  readonly accessLog: boolean;
  readonly idleTimeoutMs: number;
}

export class UpgradeExchange extends UpstreamExchange {
  readonly #client: Socket;
  readonly #head: Buffer;
  readonly #ctx: UpgradeContext;
  readonly #bytesIn0: number;
  readonly #bytesOut0: number;
  #opts: Dispatcher.DispatchOptions | null = null;
  #upstream: Duplex | null = null;
  #resume: (() => void) | null = null;

  /** `head`: the bytes the client sent after the request head (node's 'upgrade' event). */
  constructor(target: Target, head: Buffer, ctx: UpgradeContext) {
    super(target, ctx.accessLog);
    const client = target.req.socket;
    this.#client = client;
    this.#head = head;
    this.#ctx = ctx;
    this.#bytesIn0 = client.bytesRead;
    this.#bytesOut0 = client.bytesWritten;
    client.on('error', () => client.destroy());
    client.once('close', this.#onClientClose);
  }

  protected clientGone(): boolean {
    return this.#client.destroyed;
  }

  /** Sends the upgrade request upstream with the target's headers. */
  start(): void {
    this.#opts = { method: this.req.method as 'GET', path: this.target.path, headers: this.target.headers, body: null, upgrade: this.req.headers.upgrade!.trim() };
    this.dispatchNext(this.#opts);
  }

  onUpgrade(statusCode: number, rawHeaders: Buffer[] | string[] | null, upstream: Duplex): void {
    const client = this.#client;
    this.markAnswered(statusCode);
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
    out.push('x-request-id', this.requestId);
    client.write(`HTTP/1.1 101 Switching Protocols\r\n${headerBlock(out)}\r\n`);
    if (this.#head.length > 0) upstream.write(this.#head);
    const idle = this.#ctx.idleTimeoutMs;
    const onIdle = () => {
      this.conn.log.debug({ reqId: this.requestId, idleTimeoutMs: idle }, 'upgraded connection idle, closed');
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
    this.markAnswered(statusCode);
    this.#resume = resume;
    const headers = downstreamResponseHeaders(rawHeaders, this.requestId);
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
    const opts = this.#opts!;
    this.tunnelFailed(err, () => this.dispatchNext(opts), (status, message) => sendRawError(client, status, this.requestId, message), () => client.destroy());
  }

  #onClientClose = (): void => {
    this.tunnelClosed(this.#upstream, {
      upgrade: this.#opts?.upgrade ?? null,
      bytesIn: this.#client.bytesRead - this.#bytesIn0,
      bytesOut: this.#client.bytesWritten - this.#bytesOut0,
    });
  };
}
