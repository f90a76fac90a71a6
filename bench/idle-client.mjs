// Idle-connection load: opens COUNT mutual-TLS keep-alive connections to one proxy, sends one
// HTTP/1.1 request on each (so the proxy has set up its per-connection HTTP and identity state, as a
// real idle client would have), reads the 200, then holds every connection open and idle.
// It prints "open N" on stdout once all are held and exits when stdin closes or on SIGTERM.
// A separate process so its own memory and CPU never mix with the harness's or the proxy's.
// Usage: node idle-client.mjs PORT COUNT CERT KEY [PARALLEL]
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

const [port, count, certFile, keyFile, parallelArg] = process.argv.slice(2);
const COUNT = Number(count);
const PARALLEL = Number(parallelArg ?? 64);
const cert = readFileSync(certFile);
const key = readFileSync(keyFile);
const REQUEST = 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n';
const sockets = [];
let failures = 0;
let lastError = '';

function openOne() {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: Number(port), servername: 'localhost', cert, key, rejectUnauthorized: false }, () => s.write(REQUEST));
    let buf = '';
    const done = (ok, why) => {
      s.removeAllListeners('data');
      if (!ok) {
        failures++;
        lastError = why;
        s.destroy();
      } else sockets.push(s);
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
      const i = sockets.indexOf(s);
      if (i >= 0) failures++, (lastError = 'closed while idle');
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
process.stdout.write(`open ${sockets.length} failed ${failures}${failures ? ' ' + JSON.stringify(lastError) : ''}\n`);
const stop = () => {
  for (const s of sockets) s.destroy();
  process.exit(0);
};
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
