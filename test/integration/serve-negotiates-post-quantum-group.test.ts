// The mTLS listener prefers the hybrid post-quantum group X25519MLKEM768 where
// this runtime's OpenSSL offers it (Node 24: OpenSSL 3.5), then X25519, P-256,
// P-384; `tls.groups` replaces that order. Each side is checked on its own:
// the client's getEphemeralKeyInfo() says what it agreed to, and the
// server's ztproxy_tls_handshake_groups_total says what the server recorded.
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import https from 'node:https';
import t from 'tap';
import { groupOffered } from '../../src/tls/index.js';
import { makePki, type ClientFiles } from '../helpers/pki.js';
import { baseConfig, metricValue, startProxy, startUpstream, type RunningProxy } from '../helpers/proxy.js';

const PQ = 'X25519MLKEM768';
const METRIC = 'ztproxy_tls_handshake_groups_total';
// A runtime capability, not a missing tool: Node 20's OpenSSL 3.0 has no ML-KEM.
const noPq = groupOffered(PQ) ? false : `this runtime (Node ${process.version}, OpenSSL ${process.versions.openssl}) offers no ${PQ}`;

/** One request over a fresh connection whose client offers `ecdhCurve`; resolves to the status and the client's view of the group. */
function get(p: RunningProxy, caCert: string, client: ClientFiles, ecdhCurve: string): Promise<{ status: number; group: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', servername: 'localhost', port: p.port, path: '/', ca: readFileSync(caCert), cert: readFileSync(client.cert), key: readFileSync(client.key), agent: false, ecdhCurve },
      (res) => {
        const group = ((res.socket as TLSSocket).getEphemeralKeyInfo() as { name?: string } | null)?.name;
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, group }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

t.test('default groups', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice');
  const up = await startUpstream(t);
  const p = await startProxy(t, baseConfig(pki, up.url));

  t.test('a client offering X25519MLKEM768 first negotiates it', { skip: noPq }, async (t) => {
    const before = await metricValue(p.registry, METRIC, { group: PQ });
    const r = await get(p, pki.caCert, alice, `${PQ}:X25519`);
    t.equal(r.status, 200);
    t.equal(r.group, PQ, 'the client agreed to the hybrid group');
    t.equal(await metricValue(p.registry, METRIC, { group: PQ }), before + 1, 'the server counted it under its name');
  });

  t.test('a client offering X25519 first gets the hybrid group when it also supports it', { skip: noPq }, async (t) => {
    // Only X25519's key share is in the ClientHello; the server prefers X25519MLKEM768 and asks for it (HelloRetryRequest).
    const r = await get(p, pki.caCert, alice, `X25519:${PQ}`);
    t.equal(r.status, 200);
    t.ok(r.group === PQ || r.group === 'X25519', `negotiated ${r.group}`);
  });

  t.test('a client without X25519MLKEM768 connects with X25519', async (t) => {
    const before = await metricValue(p.registry, METRIC, { group: 'X25519' });
    const r = await get(p, pki.caCert, alice, 'X25519:P-256');
    t.equal(r.status, 200);
    t.equal(r.group, 'X25519');
    t.equal(await metricValue(p.registry, METRIC, { group: 'X25519' }), before + 1);
  });

  t.test('a P-256-only client connects with P-256', async (t) => {
    const r = await get(p, pki.caCert, alice, 'P-256');
    t.equal(r.status, 200);
    t.equal(r.group, 'prime256v1', "Node's client names P-256 by its OpenSSL curve name");
    t.equal(await metricValue(p.registry, METRIC, { group: 'P-256' }), 1);
  });

  t.test('TLS 1.2 records its ECDHE group too', async (t) => {
    const before = await metricValue(p.registry, METRIC, { group: 'X25519' });
    const r = await new Promise<number>((resolve, reject) => {
      const req = https.request(
        { host: '127.0.0.1', servername: 'localhost', port: p.port, ca: readFileSync(pki.caCert), cert: readFileSync(alice.cert), key: readFileSync(alice.key), agent: false, maxVersion: 'TLSv1.2' },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        },
      );
      req.on('error', reject);
      req.end();
    });
    t.equal(r, 200);
    t.equal(await metricValue(p.registry, METRIC, { group: 'X25519' }), before + 1);
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
  t.equal(await metricValue(p.registry, METRIC, { group: 'P-384' }), 1);
  await t.rejects(get(p, pki.caCert, alice, 'X25519:P-256'), 'a client with none of the configured groups is refused');
  if (!noPq) await t.rejects(get(p, pki.caCert, alice, PQ), 'nor does the post-quantum default come back');
});
