// The mTLS listener prefers the hybrid post-quantum group X25519MLKEM768 where
// this runtime's OpenSSL offers it (Node 24: OpenSSL 3.5), then X25519, P-256,
// P-384; `tls.groups` replaces that order. Each side is checked on its own:
// the client's getEphemeralKeyInfo() says what it agreed to, and the
// access-log line of the request says (`tlsGroup`) what the server recorded.
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import https from 'node:https';
import t from 'tap';
import { groupOffered } from '../../src/config/index.js';
import { makePki, type ClientFiles } from '../helpers/pki.js';
import { baseConfig, startProxy, startUpstream, type RunningProxy } from '../helpers/proxy.js';

const PQ = 'X25519MLKEM768';
// A runtime capability, not a missing tool: Node 20's OpenSSL 3.0 has no ML-KEM.
const noPq = groupOffered(PQ) ? false : `this runtime (Node ${process.version}, OpenSSL ${process.versions.openssl}) offers no ${PQ}`;

let nextReq = 0;

/**
 * One request over a fresh connection whose client offers `ecdhCurve` (or Node's default groups when
 * undefined, with `tls` options added); resolves to the status, the client's view of the group and the
 * server's (`tlsGroup` of the request's access-log line).
 */
async function get(p: RunningProxy, caCert: string, client: ClientFiles, ecdhCurve: string | undefined, tls: https.RequestOptions = {}): Promise<{ status: number; group: string | undefined; logged: unknown }> {
  const reqId = `groups-${nextReq++}`;
  const { status, group } = await new Promise<{ status: number; group: string | undefined }>((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1', servername: 'localhost', port: p.port, path: '/', headers: { 'x-request-id': reqId },
        ca: readFileSync(caCert), cert: readFileSync(client.cert), key: readFileSync(client.key), agent: false,
        ...(ecdhCurve !== undefined ? { ecdhCurve } : {}), ...tls,
      },
      (res) => {
        const g = ((res.socket as TLSSocket).getEphemeralKeyInfo() as { name?: string } | null)?.name;
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, group: g }));
      },
    );
    req.on('error', reject);
    req.end();
  });
  // Access-log lines are written in batches (at most 50 ms late): poll with a generous deadline.
  let line: Record<string, unknown> | undefined;
  for (let i = 0; i < 200 && line === undefined; i++) {
    line = p.logs.find((l) => l.msg === 'request completed' && l.reqId === reqId);
    if (line === undefined) await new Promise((r) => setTimeout(r, 50));
  }
  return { status, group, logged: line?.tlsGroup };
}

t.test('default groups', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice');
  const up = await startUpstream(t);
  const p = await startProxy(t, baseConfig(pki, up.url));

  t.test('a client offering X25519MLKEM768 first negotiates it', { skip: noPq }, async (t) => {
    const r = await get(p, pki.caCert, alice, `${PQ}:X25519`);
    t.equal(r.status, 200);
    t.equal(r.group, PQ, 'the client agreed to the hybrid group');
    t.equal(r.logged, PQ, 'the server logged it under its name');
    const d = await get(p, pki.caCert, alice, undefined);
    t.equal(d.group, PQ, "a client with Node's default groups (OpenSSL 3.5's: X25519MLKEM768 first) gets it too");
    t.equal(d.logged, PQ);
  });

  t.test('a client sending key shares for both, X25519 first, gets X25519MLKEM768: the server order decides', { skip: noPq }, async (t) => {
    // OpenSSL 3.5 list syntax: `*` sends a key share for that group in the ClientHello.
    const r = await get(p, pki.caCert, alice, `*X25519:*${PQ}`);
    t.equal(r.status, 200);
    t.equal(r.group, PQ);
    t.equal(r.logged, PQ);
  });

  t.test('a client offering X25519MLKEM768 without a key share for it keeps its X25519 share (no extra round trip)', { skip: noPq }, async (t) => {
    const r = await get(p, pki.caCert, alice, `X25519:${PQ}`);
    t.equal(r.status, 200);
    t.equal(r.group, 'X25519');
    t.equal(r.logged, 'X25519');
  });

  t.test('a client without X25519MLKEM768 connects with X25519', async (t) => {
    const r = await get(p, pki.caCert, alice, 'X25519:P-256');
    t.equal(r.status, 200);
    t.equal(r.group, 'X25519');
    t.equal(r.logged, 'X25519');
  });

  t.test('a P-256-only client connects with P-256', async (t) => {
    const r = await get(p, pki.caCert, alice, 'P-256');
    t.equal(r.status, 200);
    t.equal(r.group, 'prime256v1', "Node's client names P-256 by its OpenSSL curve name");
    t.equal(r.logged, 'P-256');
  });

  t.test('TLS 1.2 records its ECDHE group too', async (t) => {
    const r = await get(p, pki.caCert, alice, 'X25519:P-256', { maxVersion: 'TLSv1.2' });
    t.equal(r.status, 200);
    t.equal(r.group, 'X25519');
    t.equal(r.logged, 'X25519');
  });
});

t.test('tls.groups replaces the default', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice');
  const up = await startUpstream(t);
  const p = await startProxy(t, baseConfig(pki, up.url, { tls: { cert: pki.server.cert, key: pki.server.key, clientCA: pki.caCert, groups: ['P-384'] } }));
  const r = await get(p, pki.caCert, alice, 'X25519:P-384');
  t.equal(r.status, 200);
  t.equal(r.group, 'secp384r1', 'only the configured group is accepted');
  t.equal(r.logged, 'P-384');
  await t.rejects(get(p, pki.caCert, alice, 'X25519:P-256'), 'a client with none of the configured groups is refused');
  if (!noPq) await t.rejects(get(p, pki.caCert, alice, PQ), 'nor does the post-quantum default come back');
});
