// The quick-start policy flags (like ghostunnel's --allow-*): only the named
// identities reach the upstream; others get 403 and are counted.
import t from 'tap';
import { makePki } from '../helpers/pki.js';
import { request, startUpstream } from '../helpers/proxy.js';
import { scrape, startServe } from '../helpers/cli.js';

t.test('--allow-cn and --allow-uri', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice');
  const svc = await pki.client('svc', { uri: ['spiffe://example.org/ns/prod/sa/api'] });
  const bob = await pki.client('bob', { uri: ['spiffe://example.org/ns/dev/sa/api'] });
  const up = await startUpstream(t);
  const p = await startServe(t, [
    '--listen', '127.0.0.1:0', '--cert', pki.server.cert, '--key', pki.server.key, '--client-ca', pki.caCert, '--upstream', up.url,
    '--metrics-listen', '127.0.0.1:0', '--allow-cn', 'alice', '--allow-uri', 'spiffe://example.org/ns/prod/sa/*',
  ]);
  t.equal((await request(p.port, pki.caCert, alice)).status, 200, 'allowed by CN');
  t.equal((await request(p.port, pki.caCert, svc)).status, 200, 'allowed by SPIFFE ID glob');
  t.equal((await request(p.port, pki.caCert, bob)).status, 403, 'neither CN nor URI allowed');
  t.same(up.requests.map((r) => r.headers['x-client-subject-dn']), ['CN=alice', 'CN=svc']);
  t.equal(await scrape(p.metricsPort!, 'ztproxy_authz_denied_total', { route: 'default' }), 1);
  p.child.kill('SIGTERM');
  t.equal(await p.exited, 0);
});
