/**
 * Minimal WebSocket (RFC 6455) pieces for tests, without dependencies: an
 * echo upstream on node:http's 'upgrade' event, and a client that speaks
 * the handshake and frames over a verified mTLS connection to ztproxy.
 * Only what the tests need: unfragmented frames, text/binary/close/ping.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { ClientCert } from './proxy.js';

type Teardown = { teardown(fn: () => unknown): void };

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
export const acceptFor = (key: string): string => createHash('sha1').update(key + GUID).digest('base64');

export interface Frame {
  opcode: number;
  payload: Buffer;
}

export function encodeFrame(opcode: number, payload: Buffer, masked: boolean): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, len]) : len < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (len >= 126) {
    head[0] = 0x80 | opcode;
    head[1] = len < 65536 ? 126 : 127;
    if (len < 65536) head.writeUInt16BE(len, 2);
    else head.writeBigUInt64BE(BigInt(len), 2);
  }
  if (!masked) return Buffer.concat([head, payload]);
  head[1]! |= 0x80;
  const mask = randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= mask[i & 3]!;
  return Buffer.concat([head, mask, body]);
}

/** Feeds bytes, calls `onFrame` for each complete frame (unmasking client frames). */
export function frameReader(onFrame: (f: Frame) => void): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (buf.length < 2) return;
      const masked = (buf[1]! & 0x80) !== 0;
      let len = buf[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        off = 10;
      }
      const maskOff = off;
      if (masked) off += 4;
      if (buf.length < off + len) return;
      const payload = Buffer.from(buf.subarray(off, off + len));
      if (masked) for (let i = 0; i < len; i++) payload[i]! ^= buf[maskOff + (i & 3)]!;
      onFrame({ opcode: buf[0]! & 0x0f, payload });
      buf = buf.subarray(off + len);
    }
  };
}

/**
 * The server's data frames as a client reads them: `read` takes raw bytes,
 * `next()` resolves with the next frame (queued or still to come) and
 * rejects once `closed` resolves with none left.
 */
export function frameQueue(closed: Promise<void>): { read: (chunk: Buffer) => void; next: () => Promise<Frame> } {
  const frames: Frame[] = [];
  const waiters: ((f: Frame) => void)[] = [];
  const read = frameReader((f) => {
    const w = waiters.shift();
    if (w) w(f);
    else frames.push(f);
  });
  const next = () =>
    frames.length > 0
      ? Promise.resolve(frames.shift()!)
      : new Promise<Frame>((resolve, reject) => {
          waiters.push(resolve);
          void closed.then(() => reject(new Error('closed')));
        });
  return { read, next };
}

export interface WsUpstream {
  url: string;
  /** Headers of every upgrade request that reached the upstream. */
  upgrades: http.IncomingHttpHeaders[];
  /** Plain (non-upgrade) requests. */
  requests: number;
  /** Request line of every upgrade request (`GET /chat HTTP/1.1`). */
  requestLines: string[];
}

/**
 * An echo upstream: answers the handshake, echoes text and binary frames,
 * answers ping and close. `GET /refuse` with Upgrade gets 403 instead;
 * `GET /bad-accept` gets a 101 with a wrong Sec-WebSocket-Accept.
 */
export async function startWsEchoUpstream(t: Teardown): Promise<WsUpstream> {
  const state: WsUpstream = { url: '', upgrades: [], requests: 0, requestLines: [] };
  const sockets = new Set<Duplex>();
  const server = http.createServer((_req, res) => {
    state.requests++;
    res.end('not a websocket request\n');
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    state.upgrades.push(req.headers);
    state.requestLines.push(`${req.method} ${req.url} HTTP/${req.httpVersion}`);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const key = req.headers['sec-websocket-key'];
    if (req.url === '/refuse' || typeof key !== 'string' || req.headers.upgrade?.toLowerCase() !== 'websocket') {
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 8\r\nconnection: close\r\n\r\nrefused\n');
      return;
    }
    const accept = req.url === '/bad-accept' ? acceptFor('not the key') : acceptFor(key);
    const protocol = req.headers['sec-websocket-protocol']?.split(',')[0]?.trim();
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${protocol ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : ''}\r\n`);
    const read = frameReader(({ opcode, payload }) => {
      if (opcode === 0x1 || opcode === 0x2) socket.write(encodeFrame(opcode, payload, false));
      else if (opcode === 0x9) socket.write(encodeFrame(0xa, payload, false));
      else if (opcode === 0x8) socket.end(encodeFrame(0x8, payload, false));
    });
    socket.on('data', read);
    if (head.length > 0) read(head);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  t.teardown(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return state;
}

export interface WsClient {
  status: number;
  /** Lower-case response headers. */
  headers: Record<string, string>;
  /** Body of a refused upgrade (whatever came after the header block). */
  body: () => string;
  send(opcode: number, payload: Buffer | string): void;
  /** The next data frame from the server. */
  next(): Promise<Frame>;
  /** Resolves when the connection has closed. */
  closed: Promise<void>;
  socket: tls.TLSSocket;
}

/**
 * Opens an mTLS connection to ztproxy (HTTP/1.1 by ALPN) and sends a
 * WebSocket handshake for `path`. `firstFrame` goes in the same write as the
 * handshake (it reaches the proxy as the upgrade's `head`).
 */
export async function wsConnect(
  t: Teardown,
  port: number,
  caCert: string,
  client: ClientCert | null,
  path: string,
  opts: { headers?: Record<string, string>; upgrade?: string; firstFrame?: Buffer } = {},
): Promise<WsClient> {
  const socket = tls.connect({
    host: '127.0.0.1',
    port,
    servername: 'localhost',
    ALPNProtocols: ['http/1.1'],
    ca: readFileSync(caCert),
    ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}),
  });
  t.teardown(() => socket.destroy());
  socket.on('error', () => {});
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', () => resolve());
    socket.once('close', () => reject(new Error('closed during the handshake')));
  });
  const key = randomBytes(16).toString('base64');
  const extra = Object.entries(opts.headers ?? {})
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  const handshake = `GET ${path} HTTP/1.1\r\nHost: localhost:${port}\r\nUpgrade: ${opts.upgrade ?? 'websocket'}\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;
  socket.write(opts.firstFrame ? Buffer.concat([Buffer.from(handshake), opts.firstFrame]) : handshake);

  const { read, next } = frameQueue(closed);
  let raw = Buffer.alloc(0);
  let rest = '';
  const head = await new Promise<{ status: number; headers: Record<string, string> }>((resolve, reject) => {
    const onData = (d: Buffer) => {
      raw = Buffer.concat([raw, d]);
      const end = raw.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const lines = raw.subarray(0, end).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      const status = Number(lines[0]!.split(' ')[1]);
      const after = raw.subarray(end + 4);
      if (status === 101) {
        socket.on('data', read);
        if (after.length > 0) read(after);
      } else {
        rest = after.toString('utf8');
        socket.on('data', (x: Buffer) => (rest += x.toString('utf8')));
      }
      resolve({ status, headers });
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed before a response (${raw.length} bytes)`)));
  });
  return {
    ...head,
    body: () => rest,
    send: (opcode, payload) => socket.write(encodeFrame(opcode, Buffer.isBuffer(payload) ? payload : Buffer.from(payload), true)),
    next,
    closed,
    socket,
  };
}
