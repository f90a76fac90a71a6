// limits.maxRequestsPerConnection (nginx keepalive_requests) and
// limits.maxConnectionAgeMs (nginx keepalive_time) end connections
// gracefully: on HTTP/1.1 the last response arrives whole with
// `Connection: close` and the client's next request opens a new connection;
// on HTTP/2 the client gets GOAWAY and the streams in flight finish.
import type http2 from 'node:http2';
import t, { type Test } from 'tap';
import { makePki } from '../helpers/pki.js';
import { baseConfig, startProxy, startUpstream } from '../helpers/proxy.js';
import { h2connect, h2request } from '../helpers/h2.js';
import { keepAlive } from '../helpers/live-clients.js';
import { until } from '../helpers/cli.js';

/** An upstream that answers /slow after `SLOW_MS`, everything else at once. */
const SLOW_MS = 2500;
async function slowUpstream(t: Test) {
  return startUpstream(t, (req, res) => {
    if (!req.url!.startsWith('/slow')) return false;
    setTimeout(() => res.end(JSON.stringify({ slow: req.url })), SLOW_MS);
    return true;
  });
}

const goawayOf = (s: http2.ClientHttp2Session) => new Promise<number>((r) => s.once('goaway', (code: number) => r(code)));
const closeOf = (s: { once(e: 'close', f: () => void): unknown }) => new Promise<void>((r) => s.once('close', () => r()));

t.test('maxRequestsPerConnection: the last response says Connection: close, HTTP/2 gets GOAWAY', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice');
  const up = await slowUpstream(t);
  const p = await startProxy(t, baseConfig(pki, up.url, { limits: { maxRequestsPerConnection: 3 } }));

  const h1 = keepAlive(t, p.port, pki.caCert, alice);
  const r1 = await h1.get('/1');
  const r2 = await h1.get('/2');
  const first = h1.socket();
  const closed = closeOf(first);
  const r3 = await h1.get('/3');
  t.same([r1.status, r2.status, r3.status], [200, 200, 200]);
  t.same([r1.connection, r2.connection], ['keep-alive', 'keep-alive'], 'keep-alive until the last');
  t.equal(r3.connection, 'close', 'the third response carries Connection: close');
  t.equal(JSON.parse(r3.body).url, '/3', 'and arrives whole');
  await closed;
  t.pass('the server closed the connection after it');
  t.equal((await h1.get('/4')).status, 200, 'the next request is served');
  t.equal(h1.sockets(), 2, 'on a new connection');

  const s = await h2connect(t, p.port, pki.caCert, alice);
  const goaway = goawayOf(s);
  const sessionClosed = closeOf(s);
  t.equal((await h2request(s, { ':path': '/a' })).status, 200);
  // the second and third streams are in flight when the third opens: GOAWAY, and both still finish
  const slow = [h2request(s, { ':path': '/slow-b' }), h2request(s, { ':path': '/slow-c' })];
  t.equal(await goaway, 0, 'GOAWAY NO_ERROR once the third stream opened');
  const done = await Promise.all(slow);
  t.same(done.map((r) => r.status), [200, 200], 'streams in flight finish after the GOAWAY');
  t.same(done.map((r) => JSON.parse(r.body.toString()).slow), ['/slow-b', '/slow-c'], 'with their whole bodies');
  await sessionClosed;
  t.pass('the session closes once they are done');
});

t.test('maxConnectionAgeMs: a request in flight ends the connection with Connection: close; HTTP/2 gets GOAWAY', async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice');
  const up = await slowUpstream(t);
  // The sweep runs every second: the age passes while /slow (SLOW_MS) is in flight.
  const p = await startProxy(t, baseConfig(pki, up.url, { limits: { maxConnectionAgeMs: 1000 } }));

  const h1 = keepAlive(t, p.port, pki.caCert, alice);
  t.equal((await h1.get('/young')).connection, 'keep-alive');
  const closed = closeOf(h1.socket());
  const r = await h1.get('/slow-old');
  t.equal(r.status, 200);
  t.equal(r.connection, 'close', 'the response in flight when the age passed carries Connection: close');
  t.equal(JSON.parse(r.body).slow, '/slow-old', 'and arrives whole');
  await closed;
  t.pass('the connection closes after it');

  // An idle keep-alive connection past its age is closed by the sweep.
  const idle = keepAlive(t, p.port, pki.caCert, alice);
  t.equal((await idle.get('/idle')).status, 200);
  await until(() => idle.socket().destroyed, 'the idle connection closed at its age', 300);
  t.pass('idle connection past its age closed');

  const s = await h2connect(t, p.port, pki.caCert, alice);
  const goaway = goawayOf(s);
  const sessionClosed = closeOf(s);
  const inFlight = h2request(s, { ':path': '/slow-h2' });
  t.equal(await goaway, 0, 'GOAWAY NO_ERROR at the age');
  const done = await inFlight;
  t.equal(done.status, 200, 'the stream in flight finishes');
  t.equal(JSON.parse(done.body.toString()).slow, '/slow-h2');
  await sessionClosed;
  t.pass('then the session closes');
});
