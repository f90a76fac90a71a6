// Client side of the idle-memory experiment: opens COUNT TLS keep-alive connections to 127.0.0.1:PORT,
// sends one HTTP/1.1 request on each, reads the 200, and holds them. Prints one JSON line once all are
// open ({open, failed, protocol, group} of the first connection: the group as this client's
// getEphemeralKeyInfo() names it) and exits when stdin closes. Env: PORT, COUNT, CERT, KEY (omit both for
// no client certificate), MAX_VERSION (TLSv1.3 default), ECDH_CURVE (this client's groups; default Node's),
// PARALLEL (32).
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

const env = process.env;
const COUNT = Number(env.COUNT);
const PARALLEL = Number(env.PARALLEL ?? 32);
const base = { host: '127.0.0.1', port: Number(env.PORT), servername: 'localhost', rejectUnauthorized: false, maxVersion: env.MAX_VERSION ?? 'TLSv1.3' };
if (env.CERT) Object.assign(base, { cert: readFileSync(env.CERT), key: readFileSync(env.KEY) });
if (env.ECDH_CURVE) base.ecdhCurve = env.ECDH_CURVE;
const REQUEST = 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n';
const sockets = [];
let failed = 0;
let lastError = '';
let first = null;

function openOne() {
  return new Promise((resolve) => {
    const s = tls.connect(base, () => {
      if (!first) first = { protocol: s.getProtocol(), group: s.getEphemeralKeyInfo()?.name ?? '?' };
      s.write(REQUEST);
    });
    let got = '';
    const done = (ok, why) => {
      s.removeAllListeners('data');
      if (ok) sockets.push(s);
      else {
        failed++;
        lastError = why;
        s.destroy();
      }
      resolve();
    };
    s.setEncoding('latin1');
    s.on('data', (d) => {
      got += d;
      if (got.includes('\r\n\r\nok')) done(got.startsWith('HTTP/1.1 200'), got.slice(0, 40));
    });
    s.on('error', (e) => done(false, e.message));
  });
}

let next = 0;
async function lane() {
  while (next < COUNT) {
    next++;
    await openOne();
  }
}
await Promise.all(Array.from({ length: PARALLEL }, lane));
process.stdout.write(JSON.stringify({ open: sockets.length, failed, lastError, ...first }) + '\n');
const stop = () => {
  for (const s of sockets) s.destroy();
  process.exit(0);
};
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
setTimeout(stop, Number(env.LIFETIME_MS ?? 600_000)).unref();
