// Rapid reset as issue 14 reproduced it: a node:http2 client that opens and
// cancels streams in a loop (request + close(NGHTTP2_CANCEL)) and ignores
// whatever the server says. It runs in a child process, so its loop cannot
// starve this process (the proxy's event loop: in-process, the good
// client got 4-5 answers), and it counts from its own side of the wire:
// streams opened, the GOAWAY frame it received, its TLS socket closing.
// Past limits.maxStreamResets it must get GOAWAY ENHANCE_YOUR_CALM and lose
// its connection, while a well-behaved client on another connection is served.
//
// Two traps of node's client, found while writing this: cancelled in the same
// turn as request(), nghttp2 drops the HEADERS and nothing reaches the server
// (so the streams are cancelled one turn later); and on its own TLS socket the
// client stops reading while its outbound queue is backed up, so it never sees
// the GOAWAY nor the server's close (`ss` shows the connection gone server-side
// while the client still reports it open). Hence the TLS socket that always reads.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { join } from 'node:path';
import t from 'tap';
import { h2connect, h2request } from '../helpers/h2.js';
import { makePki } from '../helpers/pki.js';
import { baseConfig, metricValue, startProxy, startUpstream } from '../helpers/proxy.js';

const MAX_RESETS = 50;
/** The attacker stops here if nothing stops it first (the issue saw 20 000 streams go through). */
const MAX_ATTACK_STREAMS = 20_000;
/** Generous: how long the attacker waits for its connection to close before it reports. */
const ATTACK_DEADLINE_MS = 60_000;

const ATTACKER = `
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
const [port, ca, cert, key, max, deadlineMs] = process.argv.slice(2);
const r = { opened: 0, refused: 0, goawayCode: null, openedAtGoaway: null, closed: false, openedAtClose: null };
const socket = tls.connect({ host: '127.0.0.1', port: Number(port), servername: 'localhost', ALPNProtocols: ['h2'], ca: readFileSync(ca), cert: readFileSync(cert), key: readFileSync(key) });
// node:http2's client stops reading its socket while it has writes queued, so it may never see the
// server's GOAWAY or close. The attacker's TLS socket therefore always reads: it parses the frames
// the server sends (for GOAWAY) and hands them to the node:http2 client through this duplex.
const wire = new Duplex({ read() {}, write(chunk, _enc, cb) { socket.write(chunk, (err) => cb(err ?? null)); } });
let inbuf = Buffer.alloc(0);
socket.on('data', (d) => {
  inbuf = Buffer.concat([inbuf, d]);
  while (inbuf.length >= 9 && inbuf.length >= 9 + inbuf.readUIntBE(0, 3)) {
    if (inbuf[3] === 0x7 && r.goawayCode === null) { r.goawayCode = inbuf.readUInt32BE(9 + 4); r.openedAtGoaway = r.opened; }
    inbuf = inbuf.subarray(9 + inbuf.readUIntBE(0, 3));
  }
  wire.push(d);
});
socket.on('end', () => wire.push(null));
socket.on('error', () => {});
const report = () => { process.stdout.write(JSON.stringify(r) + '\\n'); process.exit(0); };
socket.on('close', () => { r.closed = true; r.openedAtClose = r.opened; report(); });
setTimeout(report, Number(deadlineMs));
const session = http2.connect('https://localhost:' + port, { createConnection: () => wire });
session.on('error', () => {});
await new Promise((res) => session.once('remoteSettings', res));
process.stderr.write('attacking\\n');
// Whatever the server says, GOAWAY included, keep opening and cancelling streams. The cancel comes
// one turn later: cancelled at once, nghttp2 drops the HEADERS and nothing reaches the server.
while (r.opened < Number(max)) {
  const batch = [];
  for (let k = 0; k < 20; k++) {
    try {
      const req = session.request({ ':path': '/attack' });
      req.on('error', () => {});
      batch.push(req);
      r.opened++;
    } catch {
      r.refused++; // the session refuses new streams once it got GOAWAY or was destroyed
    }
  }
  await new Promise((res) => setImmediate(res));
  for (const req of batch) req.close(http2.constants.NGHTTP2_CANCEL);
}
`;

interface AttackReport {
  opened: number;
  refused: number;
  goawayCode: number | null;
  openedAtGoaway: number | null;
  closed: boolean;
  openedAtClose: number | null;
}

t.test('a node:http2 rapid-reset client gets GOAWAY ENHANCE_YOUR_CALM and loses its connection', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const alice = await pki.client('alice');
  const mallory = await pki.client('mallory');
  const up = await startUpstream(t);
  // One connection for the good client throughout: no GOAWAY after the default 1000 requests.
  // One connection for the good client throughout: no GOAWAY after the default 1000 requests.
  const p = await startProxy(t, baseConfig(pki, up.url, { limits: { maxStreamResets: MAX_RESETS, maxRequestsPerConnection: 10_000_000 } }));

  const good = await h2connect(t, p.port, pki.caCert, alice);
  t.equal((await h2request(good, { ':path': '/before' })).status, 200, 'the good client is served before the attack');

  const script = join(dir, 'attacker.mjs');
  writeFileSync(script, ATTACKER);
  const child = spawn(process.execPath, [script, String(p.port), pki.caCert, mallory.cert, mallory.key, String(MAX_ATTACK_STREAMS), String(ATTACK_DEADLINE_MS)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const started = new Promise<void>((resolve) =>
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('attacking')) resolve();
    }),
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  // The good client asks as fast as it is answered until the attacker reports.
  let attacking = true;
  const goodStatuses: number[] = [];
  const served = (async () => {
    await Promise.race([started, exited]);
    while (attacking) goodStatuses.push((await h2request(good, { ':path': '/good' })).status);
  })();
  await exited;
  attacking = false;
  await served;

  const report = JSON.parse(out.trim() || 'null') as AttackReport | null;
  t.ok(report, `the attacker reported (stderr: ${err.trim()})`);
  if (report === null) return;
  t.comment(`upstream saw ${up.requests.filter((q) => q.url === '/attack').length} attack requests`);
  t.comment(`attacker: ${JSON.stringify(report)}; good client answers during the attack: ${goodStatuses.length}`);
  t.equal(report.goawayCode, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, 'the attacker got GOAWAY ENHANCE_YOUR_CALM');
  t.ok(report.closed, 'and its connection closed, though it kept opening streams');
  t.ok(report.opened < MAX_ATTACK_STREAMS, `after a bounded number of streams (${report.opened} of at most ${MAX_ATTACK_STREAMS})`);
  t.equal(await metricValue(p.registry, 'ztproxy_http2_sessions_cut_total', { reason: 'rapid_reset' }), 1, 'the cut is counted once');
  t.ok(goodStatuses.length > 0, `the good client was served during the attack (${goodStatuses.length} answers)`);
  t.ok(
    goodStatuses.every((s) => s === 200),
    'every answer it got was 200',
  );
  t.equal((await h2request(good, { ':path': '/after' })).status, 200, 'its connection is still served after the attack');
});
