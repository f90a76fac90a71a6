// Idle-connection load: opens COUNT TLS keep-alive connections to 127.0.0.1:PORT, sends one HTTP/1.1
// request on each (so the server has set up its per-connection HTTP and identity state, as a real idle
// client would have), reads the 200, then holds every connection open and idle.
// Once all are held it prints one JSON line: {open, failed, lastError, protocol, group}, `open` counting the
// connections that got their 200, `failed` the ones that did not plus held ones the server closed since
// (lastError "closed while idle"), protocol and group of the first connection as this client's
// getEphemeralKeyInfo() names it. Exits when stdin closes, on SIGTERM, or after LIFETIME_MS (600 s).
// A separate process so its own memory and CPU never mix with the harness's or the server's.
// Used by bench/run.mjs (idle column) and bench/micro/idle-mem.mjs.
//
// Usage: node idle-client.mjs PORT COUNT [CERT KEY] [PARALLEL]   (CERT and KEY "-": no client certificate)
// Env: MAX_VERSION (TLSv1.3), ECDH_CURVE (this client's groups; default Node's), LIFETIME_MS.
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

const env = process.env;
const [port, count, certFile = '-', keyFile = '-', parallelArg] = process.argv.slice(2);
const COUNT = Number(count);
const PARALLEL = Number(parallelArg ?? 64);
const base = { host: '127.0.0.1', port: Number(port), servername: 'localhost', rejectUnauthorized: false, maxVersion: env.MAX_VERSION ?? 'TLSv1.3' };
if (certFile !== '-') Object.assign(base, { cert: readFileSync(certFile), key: readFileSync(keyFile) });
if (env.ECDH_CURVE) base.ecdhCurve = env.ECDH_CURVE;
const REQUEST = 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n';
const sockets = [];
let failed = 0;
let lastError = '';
let first = null;

function openOne() {
  return new Promise((resolve) => {
    const s = tls.connect(base, () => {
      first ??= { protocol: s.getProtocol(), group: s.getEphemeralKeyInfo()?.name ?? '?' };
      s.write(REQUEST);
    });
    let buf = '';
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
      buf += d;
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      if (!buf.startsWith('HTTP/1.1 200')) return done(false, buf.slice(0, 40));
      const len = Number(buf.match(/\r\ncontent-length:\s*(\d+)/i)?.[1] ?? NaN);
      if (buf.length >= end + 4 + len) done(true);
    });
    s.on('error', (e) => done(false, e.message));
    s.on('close', () => {
      if (sockets.includes(s)) failed++, (lastError = 'closed while idle');
    });
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
process.on('SIGTERM', stop);
setTimeout(stop, Number(env.LIFETIME_MS ?? 600_000)).unref();
