// Identity headers sent by a client never reach the upstream: every copy,
// every letter case, underscore spellings and the well-known names are
// dropped before the proxy sets its own value.
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import t from 'tap';
import { makePki } from '../helpers/pki.js';
import { baseConfig, startProxy, startUpstream } from '../helpers/proxy.js';

/** Sends `head` verbatim over mTLS and resolves to the raw response text. */
function rawRequest(port: number, ca: string, cert: { cert: string; key: string }, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: readFileSync(ca), cert: readFileSync(cert.cert), key: readFileSync(cert.key) }, () => s.write(head));
    let out = '';
    s.on('data', (d: Buffer) => (out += d.toString('latin1')));
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
}

t.test('spoofed identity headers are stripped', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice', { ou: ['dev'] });
  const up = await startUpstream(t);
  const p = await startProxy(t, baseConfig(pki, up.url, { identityHeaders: { serial: 'X-Serial-Of-Client' } }));
  const spoofs = [
    'X-Client-Subject-DN: CN=admin',
    'x-client-subject-dn: CN=admin2',
    'X-CLIENT-SUBJECT-DN: CN=admin3',
    'X-Client-Subject-DN:',
    'X_Client_Subject_DN: CN=underscore',
    'x-client-verify: SUCCESS',
    'X-SSL-Client-S-DN: CN=ssl',
    'X-SSL-Client-Verify: SUCCESS',
    'X-Forwarded-Client-Cert: Hash=abc;Subject="CN=admin"',
    'Client-Cert: :AAAA:',
    'Client-Cert-Chain: :AAAA:',
    'x-serial-of-client: 01',
    'X_SERIAL_OF_CLIENT: 02',
  ];
  const head = `GET /spoof HTTP/1.1\r\nHost: localhost\r\n${spoofs.join('\r\n')}\r\nX-Keep: yes\r\nConnection: close\r\n\r\n`;
  const res = await rawRequest(p.port, pki.caCert, alice, head);
  t.match(res, /^HTTP\/1\.1 200 /, 'request served');
  t.equal(up.requests.length, 1);
  const got = up.requests[0]!;
  const names = got.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
  t.same(names.filter((n) => n === 'x-client-subject-dn'), ['x-client-subject-dn'], 'exactly one subject DN header');
  t.equal(got.headers['x-client-subject-dn'], 'CN=alice,OU=dev', 'and it is the verified one');
  t.equal(got.headers['x-serial-of-client'], alice.serial.toUpperCase(), 'configured serial header carries the real serial');
  for (const n of names) {
    t.notMatch(n, /^(x-client-verify|x-ssl-client|x-forwarded-client-cert|client-cert|x_)/, `${n} is not a spoofed identity header`);
  }
  t.equal(got.headers['x-keep'], 'yes', 'ordinary headers pass');
  const values = got.rawHeaders.filter((_, i) => i % 2 === 1);
  for (const bad of ['CN=admin', 'CN=admin2', 'CN=admin3', 'CN=underscore', 'CN=ssl', '01', '02']) t.notOk(values.includes(bad), `${bad} never reaches the upstream`);
});

t.test('hop-by-hop headers and headers named by Connection are dropped; forwarding headers are set', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice');
  const up = await startUpstream(t);
  const p = await startProxy(t, baseConfig(pki, up.url));
  const head =
    'GET /hop HTTP/1.1\r\nHost: localhost\r\nConnection: close, X-Secret-Hop\r\nX-Secret-Hop: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n' +
    'X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: http\r\nX-Request-Id: abc-123\r\n\r\n';
  await rawRequest(p.port, pki.caCert, alice, head);
  const got = up.requests[0]!;
  t.notOk(got.headers['x-secret-hop'], 'header named in Connection dropped');
  t.notOk(got.headers['keep-alive'], 'keep-alive dropped');
  t.notOk(got.headers['te'], 'te dropped');
  t.equal(got.headers['x-forwarded-for'], '127.0.0.1', "the client's X-Forwarded-For is replaced by its address (issue 13)");
  t.equal(got.headers['x-forwarded-proto'], 'https', 'proto is the proxy\'s, not the client\'s');
  t.equal(got.headers['x-forwarded-host'], 'localhost');
  t.equal(got.headers['x-request-id'], 'abc-123', 'a valid request id is kept');
});
