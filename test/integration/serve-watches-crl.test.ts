// A re-signed CRL is picked up without a restart or a signal: the file is
// watched, and the revoked client is refused in the handshake from then on.
import t from 'tap';
import { makePki } from '../helpers/pki.js';
import { request, startUpstream } from '../helpers/proxy.js';
import { scrape, startServe, until } from '../helpers/cli.js';

t.test('revocation takes effect when the CRL file changes', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice');
  const bob = await pki.client('bob');
  const up = await startUpstream(t);
  const p = await startServe(t, ['--listen', '127.0.0.1:0', '--cert', pki.server.cert, '--key', pki.server.key, '--client-ca', pki.caCert, '--crl', pki.crl, '--upstream', up.url, '--metrics-listen', '127.0.0.1:0']);
  t.equal((await request(p.port, pki.caCert, alice)).status, 200, 'alice before revocation');
  await pki.revoke(alice.serial); // ztproxy ca revoke: re-signs crl.pem atomically
  await until(async () => (await scrape(p.metricsPort!, 'ztproxy_config_reloads_total', { result: 'ok' })) >= 1, 'the reload the CRL change triggers', 300);
  await t.rejects(request(p.port, pki.caCert, alice), 'alice refused after the CRL changed, no signal sent');
  t.equal((await request(p.port, pki.caCert, bob)).status, 200, 'bob still served');
  t.equal(await scrape(p.metricsPort!, 'ztproxy_tls_handshakes_total', { result: 'failed', reason: 'revoked' }), 1);
  t.match(p.output(), /"trigger":"file change"/);
  p.child.kill('SIGTERM');
  t.equal(await p.exited, 0);
});
