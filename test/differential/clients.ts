/**
 * Clients of the differential test that send a request target and Host byte
 * for byte (Node's own http client would validate or normalize them):
 *
 * - H1Lane: HTTP/1.1 over a raw TLS socket, the request written by hand, one
 *   request at a time on a kept-alive connection; a response that closes the
 *   connection (or a connection that dies) costs only that case: the next one
 *   opens a fresh connection.
 * - H2Lane: node:http2 with `:path` and `:authority` set to the UTF-8 bytes
 *   given; a session that goes away is replaced for the next case.
 *
 * An outcome is an HTTP status and body, `reset` (an HTTP/2 stream or session
 * ended without a response), `closed` (the connection closed without one),
 * `timeout`, or `unsendable` (the client library refused to send it).
 */
import http2 from 'node:http2';
import tls from 'node:tls';
import type { ClientCert } from '../helpers/proxy.js';
import { readFileSync } from 'node:fs';

export type Outcome = { kind: 'http'; status: number; body: string } | { kind: 'reset' | 'closed' | 'timeout' | 'unsendable'; detail: string };

/** A case with no answer by then is a failure (a hang), reported as `timeout`. */
const TIMEOUT_MS = 45_000;

interface Parsed {
  status: number;
  body: string;
  close: boolean;
}

/** Parses one complete HTTP/1.1 response at the start of `buf`; null while incomplete. */
function parseResponse(buf: Buffer, ended: boolean): Parsed | null {
  const head = buf.indexOf('\r\n\r\n');
  if (head < 0) return null;
  const lines = buf.subarray(0, head).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0]!)?.[1] ?? 0);
  const headers = new Map<string, string>();
  for (const l of lines.slice(1)) {
    const c = l.indexOf(':');
    headers.set(l.slice(0, c).trim().toLowerCase(), l.slice(c + 1).trim());
  }
  const close = /\bclose\b/i.test(headers.get('connection') ?? '');
  let rest = buf.subarray(head + 4);
  if (/chunked/i.test(headers.get('transfer-encoding') ?? '')) {
    const parts: Buffer[] = [];
    for (;;) {
      const eol = rest.indexOf('\r\n');
      if (eol < 0) return null;
      const size = parseInt(rest.subarray(0, eol).toString('latin1'), 16);
      if (size === 0) return rest.indexOf('\r\n\r\n') >= 0 || ended ? { status, body: Buffer.concat(parts).toString('utf8'), close } : null;
      if (rest.length < eol + 2 + size + 2) return null;
      parts.push(rest.subarray(eol + 2, eol + 2 + size));
      rest = rest.subarray(eol + 2 + size + 2);
    }
  }
  const cl = headers.get('content-length');
  if (cl !== undefined) return rest.length >= Number(cl) ? { status, body: rest.subarray(0, Number(cl)).toString('utf8'), close } : null;
  if (status === 204 || status === 304) return { status, body: '', close };
  return ended ? { status, body: rest.toString('utf8'), close: true } : null;
}

export class H1Lane {
  readonly #port: number;
  readonly #ca: Buffer;
  readonly #cert: Buffer;
  readonly #key: Buffer;
  #sock: tls.TLSSocket | null = null;
  /** Connections opened (the first, and one after each case that closed one). */
  connections = 0;

  constructor(port: number, ca: Buffer, client: ClientCert) {
    this.#port = port;
    this.#ca = ca;
    this.#cert = readFileSync(client.cert);
    this.#key = readFileSync(client.key);
  }

  async #connect(): Promise<tls.TLSSocket> {
    if (this.#sock !== null && !this.#sock.destroyed) return this.#sock;
    this.connections++;
    const s = tls.connect({ host: '127.0.0.1', port: this.#port, ca: this.#ca, servername: 'localhost', cert: this.#cert, key: this.#key, ALPNProtocols: ['http/1.1'] });
    s.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      s.once('secureConnect', () => resolve());
      s.once('close', () => reject(new Error('TLS connection closed during the handshake')));
    });
    this.#sock = s;
    return s;
  }

  /** Sends `GET target HTTP/1.1` with `host` (both as UTF-8 bytes) and the extra header lines. */
  async send(target: string, host: string, extra: string): Promise<Outcome> {
    const s = await this.#connect();
    return new Promise<Outcome>((resolve) => {
      let buf = Buffer.alloc(0);
      const done = (o: Outcome, keep: boolean) => {
        clearTimeout(timer);
        s.off('data', onData).off('close', onClose);
        if (!keep) {
          s.destroy();
          this.#sock = null;
        }
        resolve(o);
      };
      const onData = (c: Buffer) => {
        buf = Buffer.concat([buf, c]);
        const r = parseResponse(buf, false);
        if (r) done({ kind: 'http', status: r.status, body: r.body }, !r.close);
      };
      const onClose = () => {
        const r = parseResponse(buf, true);
        done(r ? { kind: 'http', status: r.status, body: r.body } : { kind: 'closed', detail: buf.toString('latin1').slice(0, 200) }, false);
      };
      const timer = setTimeout(() => done({ kind: 'timeout', detail: buf.toString('latin1').slice(0, 200) }, false), TIMEOUT_MS);
      s.on('data', onData).on('close', onClose);
      s.write(Buffer.from(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\n${extra}\r\n`, 'utf8'));
    });
  }

  close(): void {
    this.#sock?.destroy();
    this.#sock = null;
  }
}

export class H2Lane {
  readonly #port: number;
  readonly #ca: Buffer;
  readonly #cert: Buffer;
  readonly #key: Buffer;
  #session: http2.ClientHttp2Session | null = null;
  connections = 0;

  constructor(port: number, ca: Buffer, client: ClientCert) {
    this.#port = port;
    this.#ca = ca;
    this.#cert = readFileSync(client.cert);
    this.#key = readFileSync(client.key);
  }

  async #connect(): Promise<http2.ClientHttp2Session> {
    const old = this.#session;
    if (old !== null && !old.closed && !old.destroyed) return old;
    this.connections++;
    const session = http2.connect(`https://localhost:${this.#port}`, { host: '127.0.0.1', servername: 'localhost', ca: this.#ca, cert: this.#cert, key: this.#key });
    session.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      session.once('remoteSettings', () => resolve());
      session.once('close', () => reject(new Error('h2 session closed before the server settings arrived')));
    });
    this.#session = session;
    return session;
  }

  async send(target: string, authority: string, extra: Record<string, string>): Promise<Outcome> {
    const session = await this.#connect();
    let req: http2.ClientHttp2Stream;
    try {
      // node:http2 writes header values as latin1, one byte per UTF-16 unit (U+0131 would go out as '1'): hand it the UTF-8 bytes.
      const bytes = (v: string) => Buffer.from(v, 'utf8').toString('latin1');
      req = session.request({ ':method': 'GET', ':scheme': 'https', ':path': bytes(target), ':authority': bytes(authority), ...extra });
    } catch (err) {
      return { kind: 'unsendable', detail: (err as Error).message };
    }
    return new Promise<Outcome>((resolve) => {
      let status = 0;
      const chunks: Buffer[] = [];
      const timer = setTimeout(() => {
        req.close(http2.constants.NGHTTP2_CANCEL);
        resolve({ kind: 'timeout', detail: '' });
      }, TIMEOUT_MS);
      req.on('response', (h) => (status = Number(h[':status'])));
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('error', () => {});
      req.on('close', () => {
        clearTimeout(timer);
        if (status !== 0) resolve({ kind: 'http', status, body: Buffer.concat(chunks).toString('utf8') });
        else resolve({ kind: 'reset', detail: `rst ${req.rstCode}${session.destroyed ? ', session gone' : ''}` });
      });
      req.end();
    });
  }

  close(): void {
    this.#session?.destroy();
    this.#session = null;
  }
}
