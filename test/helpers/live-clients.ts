/**
 * Live connections of one client through a `ztproxy serve` child process, for
 * the revocation tests: a keep-alive HTTP/1.1 connection, an HTTP/2 session
 * and a WebSocket tunnel, each used once; and the assertions that the revoked
 * client's are closed while another client's are untouched and served.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type http2 from 'node:http2';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import type { Test } from 'tap';
import { makePki, type ClientFiles, type Pki } from './pki.js';
import { startUpstream, type ClientCert } from './proxy.js';
import { scrape, startServe, type ServeProcess } from './cli.js';
import { h2connect, h2request } from './h2.js';
import { startWsEchoUpstream, wsConnect, type WsClient } from './ws.js';

type Teardown = { teardown(fn: () => unknown): void };

/** A keep-alive HTTP/1.1 client on one connection (an Agent with one socket). */
export function keepAlive(t: Teardown, port: number, caCert: string, client: ClientCert) {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  let socket: Socket | null = null;
  let sockets = 0;
  const get = (path: string) =>
    new Promise<{ status: number; body: string; connection: string | undefined }>((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', servername: 'localhost', port, path, agent, ca: readFileSync(caCert), cert: readFileSync(client.cert), key: readFileSync(client.key) }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body, connection: res.headers.connection }));
      });
      req.on('socket', (s: Socket) => {
        if (s !== socket) {
          socket = s;
          sockets++;
        }
      });
      req.on('error', reject);
      req.end();
    });
  return { get, socket: () => socket!, sockets: () => sockets };
}

export interface Clients {
  h1: ReturnType<typeof keepAlive>;
  h1Closed: Promise<void>;
  h2: http2.ClientHttp2Session;
  h2Closed: Promise<void>;
  goaway: Promise<number>;
  ws: WsClient;
}

/** One keep-alive connection, one HTTP/2 session and one WebSocket tunnel of `who`, each used once. */
export async function openClients(t: Teardown, p: ServeProcess, pki: Pki, who: ClientFiles): Promise<Clients> {
  const h1 = keepAlive(t, p.port, pki.caCert, who);
  const r = await h1.get('/h1');
  if (r.status !== 200) throw new Error(`h1 ${r.status}`);
  const s = h1.socket();
  const h1Closed = new Promise<void>((res) => (s.destroyed ? res() : s.once('close', () => res())));
  const h2 = await h2connect(t, p.port, pki.caCert, who);
  const goaway = new Promise<number>((res) => h2.once('goaway', (code: number) => res(code)));
  const h2Closed = new Promise<void>((res) => h2.once('close', () => res()));
  if ((await h2request(h2, { ':path': '/h2' })).status !== 200) throw new Error('h2');
  const ws = await wsConnect(t, p.port, pki.caCert, who, '/ws/echo');
  if (ws.status !== 101) throw new Error(`ws ${ws.status}`);
  ws.send(0x1, 'hello');
  if ((await ws.next()).payload.toString() !== 'hello') throw new Error('ws echo');
  return { h1, h1Closed, h2, h2Closed, goaway, ws };
}

/** Resolves true when `p` settles within `ms` (a generous deadline; the product's bound is 1 s after the reload). */
export const settles = (p: Promise<unknown>, ms: number) => Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

/**
 * A PKI with clients alice (OU dev) and bob, a JSON upstream, a WebSocket echo
 * upstream under /ws, and `ztproxy serve --config` with the CRL at `crl(pki)`
 * (default: the CA's crl.pem) and `workers` (default 1).
 */
export async function setupServe(t: Teardown & { testdir(): string }, opts: { crl?: (pki: Pki) => string; workers?: number } = {}) {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const alice = await pki.client('alice', { ou: ['dev'] });
  const bob = await pki.client('bob');
  const up = await startUpstream(t);
  const ws = await startWsEchoUpstream(t);
  const crl = opts.crl ? opts.crl(pki) : pki.crl;
  const cfg = join(dir, 'ztproxy.yaml');
  writeFileSync(
    cfg,
    JSON.stringify({
      listen: '127.0.0.1:0',
      workers: opts.workers ?? 1,
      tls: { cert: pki.server.cert, key: pki.server.key, clientCA: pki.caCert, crl },
      routes: [
        { name: 'ws', pathPrefix: '/ws', upstream: ws.url },
        { name: 'default', upstream: up.url },
      ],
      metrics: { listen: '127.0.0.1:0' },
    }),
  );
  const p = await startServe(t, ['--config', cfg]);
  return { pki, alice, bob, p };
}

/** `replaced`: performance.now() when the CRL file was replaced (for the comment only: nothing is timed). */
export async function assertRevokedClosed(t: Test, p: ServeProcess, a: Clients, b: Clients, replaced: number) {
  const after = (p: Promise<unknown>) => p.then(() => Math.round(performance.now() - replaced));
  const ms = Promise.all([after(a.h1Closed), after(a.h2Closed), after(a.ws.closed)]);
  t.ok(await settles(a.h1Closed, 20_000), "alice's keep-alive HTTP/1.1 connection is closed");
  t.ok(await settles(a.h2Closed, 20_000), "alice's HTTP/2 session is closed");
  t.ok(await settles(a.goaway, 1), 'with a GOAWAY first');
  t.ok(await settles(a.ws.closed, 20_000), "alice's WebSocket tunnel is closed");
  const [h1ms, h2ms, wsms] = await ms;
  t.comment(`closed after the CRL file was replaced: h1 ${h1ms} ms, h2 ${h2ms} ms, ws ${wsms} ms`);
  // bob's connections were never touched: the same sockets serve him
  const r = await b.h1.get('/h1-after');
  t.equal(r.status, 200, "bob's keep-alive connection still serves");
  t.equal(b.h1.sockets(), 1, 'on the same connection');
  t.equal((await h2request(b.h2, { ':path': '/h2-after' })).status, 200, "bob's HTTP/2 session still serves");
  b.ws.send(0x1, 'still here');
  t.equal((await b.ws.next()).payload.toString(), 'still here', "bob's tunnel still echoes");
  t.equal(await scrape(p.metricsPort!, 'ztproxy_connections_revoked_total', { reason: 'revoked' }), 3, 'three connections counted as revoked');
  t.match(p.output(), /"trigger":"file change"/, 'the reload came from the file watch, no signal');
  const lines = p.output().split('\n').filter((l) => l.includes('client certificate no longer verifies'));
  t.equal(lines.length, 3, 'one log line per connection');
  for (const l of lines) t.match(l, /"dn":"CN=alice,OU=dev"/, "logged with the DN");
}

