/**
 * A real HTTP/2 client for the mTLS listener (node:http2, ALPN h2, verifying
 * the server against the test CA), closed by t.teardown.
 */
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import tls from 'node:tls';
import type { ClientCert } from './proxy.js';

type Teardown = { teardown(fn: () => unknown): void };

export interface H2Reply {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
}

/** Opens an h2 session to 127.0.0.1:`port` as `client` (null: no client certificate); resolves once the server's SETTINGS arrived. */
export async function h2connect(t: Teardown, port: number, caCert: string, client: ClientCert | null, settings: http2.Settings = {}): Promise<http2.ClientHttp2Session> {
  // Our own TLS socket: a TLS alert after the client's Finished (the server refusing a client without a
  // certificate under TLS 1.3) destroys node:http2's client session without 'error' or 'close' on it.
  const socket = tls.connect({
    host: '127.0.0.1',
    port,
    servername: 'localhost',
    ALPNProtocols: ['h2'],
    ca: readFileSync(caCert),
    ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}),
  });
  const session = http2.connect(`https://localhost:${port}`, { createConnection: () => socket, settings });
  t.teardown(() => {
    session.destroy();
    socket.destroy();
  });
  // Ready once the server's SETTINGS arrived (under TLS 1.3 'connect' comes before the server has verified us).
  await new Promise<void>((resolve, reject) => {
    const closed = () => reject(new Error('session closed before the server settings arrived'));
    session.once('remoteSettings', () => {
      session.off('error', reject).off('close', closed);
      socket.off('error', reject).off('close', closed);
      resolve();
    });
    session.once('error', reject).once('close', closed);
    socket.once('error', reject).once('close', closed);
  });
  session.on('error', () => {}); // later errors surface on the streams
  return session;
}

/** One request on `session`; rejects on a stream error. */
export function h2request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer | string): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': 'GET', ':path': '/', ...headers }, { endStream: body === undefined });
    let status = 0;
    let resHeaders: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      status = Number(h[':status']);
      resHeaders = h;
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => (status === 0 ? reject(new Error('stream ended without a response')) : resolve({ status, headers: resHeaders, body: Buffer.concat(chunks) })));
    req.on('close', () => {
      if (status === 0) reject(new Error(`stream closed without a response (rst code ${req.rstCode})`));
    });
    req.on('error', reject);
    if (body !== undefined) req.end(body);
  });
}
