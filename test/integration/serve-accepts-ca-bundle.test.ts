// tls.clientCA may hold several CAs; clients that chain through an
// intermediate (sent with their certificate) are accepted; the server
// certificate file may carry its own chain. A client of an untrusted CA is
// still refused.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { makePki } from '../helpers/pki.js';
import { baseConfig, request, startProxy, startUpstream } from '../helpers/proxy.js';

t.test('a bundle of two CAs, one with an intermediate; a chained server certificate', async (t) => {
  const dir = t.testdir();
  const a = await makePki(join(dir, 'a'), { name: 'Team A CA' });
  const b = await makePki(join(dir, 'b'), { name: 'Team B Root', intermediate: true });
  const c = await makePki(join(dir, 'c'), { name: 'Untrusted CA' });
  const bundle = join(dir, 'client-cas.pem');
  writeFileSync(bundle, readFileSync(a.caCert, 'utf8') + readFileSync(b.caCert, 'utf8'));
  const alice = await a.client('alice');
  const bob = await b.client('bob'); // leaf + intermediate in bob.crt; the bundle has only B's root
  const carol = await c.client('carol');
  t.equal((readFileSync(bob.cert, 'utf8').match(/BEGIN CERTIFICATE/g) ?? []).length, 2, 'bob sends his chain');

  const up = await startUpstream(t);
  // The server certificate comes from B's intermediate: its file holds leaf + intermediate.
  const p = await startProxy(t, { ...baseConfig(b, up.url), tls: { cert: b.server.cert, key: b.server.key, clientCA: bundle } });
  t.equal((await request(p.port, b.caCert, alice)).status, 200, 'a client of CA A');
  t.equal((await request(p.port, b.caCert, bob)).status, 200, 'a client of CA B through its intermediate; the server chain verifies against B root');
  await t.rejects(request(p.port, b.caCert, carol), 'a client of an untrusted CA');
  t.same(up.requests.map((r) => r.headers['x-client-subject-dn']), ['CN=alice', 'CN=bob']);
  t.same(
    up.requests.map((r) => r.headers['x-client-issuer-dn']),
    [undefined, undefined],
    'no issuer header unless configured',
  );
});
