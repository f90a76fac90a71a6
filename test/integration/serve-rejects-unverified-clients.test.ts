// A client without a certificate signed by the trusted CA is refused in the
// handshake: it never reaches HTTP, the upstream sees nothing, and each
// refusal is counted under its reason.
import t from 'tap';
import { makePki } from '../helpers/pki.js';
import { baseConfig, metricValue, request, startProxy, startUpstream } from '../helpers/proxy.js';

t.test('only verified clients reach the upstream', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const other = await makePki(`${dir}/other`, { name: 'ztproxy Test CA' }); // same DN, different key
  const alice = await pki.client('alice', { ou: ['dev'] });
  const mallory = await other.client('alice', { ou: ['dev'] });
  const expired = await pki.client('old', { notBefore: new Date(Date.now() - 3 * 86400_000), notAfter: new Date(Date.now() - 86400_000) });
  const up = await startUpstream(t);
  const p = await startProxy(t, baseConfig(pki, up.url));

  const ok = await request(p.port, pki.caCert, alice);
  t.equal(ok.status, 200, 'alice is served');
  t.equal(up.requests.length, 1);
  t.equal(up.requests[0]!.headers['x-client-subject-dn'], 'CN=alice,OU=dev');

  for (const [name, client] of [
    ['no certificate', null],
    ['certificate from another CA with a copied DN', mallory],
    ['expired certificate', expired],
  ] as const) {
    await t.rejects(request(p.port, pki.caCert, client, { path: '/should-not-arrive' }), `${name}: refused`);
  }
  t.equal(up.requests.length, 1, 'the upstream saw only the verified request');
  t.equal(await metricValue(p.registry, 'ztproxy_tls_handshakes_total', { result: 'ok' }), 1);
  t.equal(await metricValue(p.registry, 'ztproxy_tls_handshakes_total', { result: 'failed', reason: 'no_certificate' }), 1);
  t.equal(await metricValue(p.registry, 'ztproxy_tls_handshakes_total', { result: 'failed', reason: 'unknown_ca' }), 1);
  t.equal(await metricValue(p.registry, 'ztproxy_tls_handshakes_total', { result: 'failed', reason: 'expired' }), 1);
  t.equal(await metricValue(p.registry, 'ztproxy_http_requests_total', { route: 'default', code: '200' }), 1);
});

t.test('a revoked certificate is refused once the CRL lists it, after reload', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const bob = await pki.client('bob');
  const up = await startUpstream(t);
  const raw = baseConfig(pki, up.url, {});
  (raw.tls as Record<string, unknown>).crl = pki.crl;
  const p = await startProxy(t, raw);
  t.equal((await request(p.port, pki.caCert, bob)).status, 200, 'served before revocation');
  await pki.revoke(bob.serial);
  const { resolveConfig } = await import('../../src/config/index.js');
  await p.server.reload(async () => resolveConfig(raw));
  await t.rejects(request(p.port, pki.caCert, bob), 'refused after revocation');
  t.equal(await metricValue(p.registry, 'ztproxy_tls_handshakes_total', { result: 'failed', reason: 'revoked' }), 1);
  t.equal(up.requests.length, 1);
});
