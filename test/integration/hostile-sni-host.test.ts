// Hostile case 2: SNI vs Host. A client certificate accepted on one virtual
// host cannot reach another by sending a different Host (421): any letter
// case, a trailing dot, a port, absolute-form, a second request on the same
// keep-alive connection, and HTTP/2 connection reuse (coalescing) with another
// :authority.
import t, { type Test } from 'tap';
import { connect as h2connect } from 'node:http2';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { makePki } from '../helpers/pki.js';
import { raw, request, startProxy, startUpstream, statuses } from './hostile-harness.js';

/** A proxy serving two virtual hosts, a.internal and b.internal, on one upstream; `bAllow` is route b's allow rule. */
async function twoVirtualHosts(t: Test, bAllow?: { cn: string[] }) {
  const pki = await makePki(t.testdir(), { serverDns: ['a.internal', 'b.internal'] });
  const up = await startUpstream(t);
  const alice = await pki.client('alice');
  const p = await startProxy(t, {
    pki,
    upstream: up,
    routes: [
      { name: 'a', host: 'a.internal', upstream: up.url },
      { name: 'b', host: 'b.internal', upstream: up.url, ...(bAllow && { allow: bAllow }) },
    ],
  });
  return { up, alice, p };
}

t.test('a connection for a.internal never reaches b.internal', async (t) => {
  const { up, alice, p } = await twoVirtualHosts(t, { cn: ['bob'] });
  const sni = { servername: 'a.internal' };
  const get = (host: string, close = true) => `GET / HTTP/1.1\r\nHost: ${host}\r\n${close ? 'Connection: close\r\n' : ''}\r\n`;

  t.equal((await request(p.port, p.ca, alice, { servername: 'a.internal' })).status, 200, 'SNI a, Host a: served');
  for (const host of ['b.internal', 'B.Internal', 'b.internal.', 'b.internal:443', 'B.INTERNAL.:8443']) {
    const r = await raw(p.port, p.ca, alice, [get(host)], sni);
    t.same(statuses(r.data), [421], `SNI a, Host ${JSON.stringify(host)}: 421`);
  }
  let r = await raw(p.port, p.ca, alice, [`GET https://b.internal/ HTTP/1.1\r\nHost: b.internal\r\nConnection: close\r\n\r\n`], sni);
  t.same(statuses(r.data), [421], 'absolute-form naming b: 421');
  r = await raw(p.port, p.ca, alice, [`GET https://b.internal/ HTTP/1.1\r\nHost: a.internal\r\nConnection: close\r\n\r\n`], sni);
  t.same(statuses(r.data), [400], 'absolute-form naming b with Host a: 400');
  r = await raw(p.port, p.ca, alice, [get('a.internal', false) + get('b.internal', false) + get('a.internal')], sni);
  t.same(statuses(r.data), [200, 421, 200], 'keep-alive: the second request (Host b) is 421, the connection stays usable for a');
  t.equal(up.seen.length, 3, 'only the Host-a requests reached the upstream');
  t.ok(up.seen.every((x) => x.headers.host === 'a.internal' && x.headers['x-client-subject-dn'] === 'CN=alice'));

  // Without SNI there is no virtual host to hold the connection to: Host routes, and route b's policy still decides.
  const noSni = await raw(p.port, p.ca, alice, [get('b.internal')], { extra: { servername: undefined as unknown as string, checkServerIdentity: () => undefined } });
  t.same(statuses(noSni.data), [403], 'no SNI, Host b: the policy of b refuses alice');
  t.equal(up.seen.length, 3);
});

t.test('HTTP/2 connection reuse: a stream with another :authority gets 421', async (t) => {
  const { up, alice, p } = await twoVirtualHosts(t);
  const alpn = await new Promise<string | false>((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: p.port, ca: p.ca, servername: 'a.internal', cert: readFileSync(alice.cert), key: readFileSync(alice.key), ALPNProtocols: ['h2', 'http/1.1'] }, () => {
      resolve(s.alpnProtocol ?? false);
      s.destroy();
    });
    s.on('error', () => resolve(false));
  });
  // The proxy always offers h2 (proxy/server.ts ALPNProtocols), and node:http2 is built into every supported Node: a requirement, not a skip.
  t.equal(alpn, 'h2', 'the proxy offers h2, so a client may coalesce');
  if (alpn !== 'h2') return;
  const session = h2connect(`https://a.internal:${p.port}`, { ca: p.ca, cert: readFileSync(alice.cert), key: readFileSync(alice.key), servername: 'a.internal', host: '127.0.0.1', port: p.port } as never);
  t.teardown(() => session.close());
  const stream = (authority: string) =>
    new Promise<number>((resolve, reject) => {
      const req = session.request({ ':method': 'GET', ':path': '/', ':authority': authority, ':scheme': 'https' });
      req.on('response', (h) => resolve(Number(h[':status'])));
      req.on('error', reject);
      req.resume();
      req.end();
    });
  t.equal(await stream('a.internal'), 200, 'h2 stream for a: served');
  t.equal(await stream('b.internal'), 421, 'h2 stream for b on the same connection: 421');
  t.equal(await stream('B.INTERNAL'), 421, 'h2 stream for B.INTERNAL: 421');
  t.equal(up.seen.length, 1);
  t.equal(up.seen[0]!.headers.host, 'a.internal');
});
