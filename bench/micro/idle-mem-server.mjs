// Server side of the idle-memory experiment (bench/micro/idle-mem.mjs drives it; see bench/MEMORY.md).
// A bare node:tls (or node:https) server with knobs for every option that might change what an idle
// connection holds. It answers each request head with a fixed 200 like rivals/node-tls-floor.mjs.
// On stdin it takes commands, one per line, and answers one JSON line on stdout:
//   measure          two forced GCs, then RSS, smaps_rollup, process.memoryUsage(), V8 heap statistics
//   snapshot FILE    writes a heap snapshot (v8.writeHeapSnapshot) and answers its path
//   exit             exits at once (sockets still open: heaptrack then reports them as leaked)
// Needs --expose-gc. Env:
//   CERT KEY CA        PEM files (server certificate, key, client CA)
//   REQUEST_CERT       1 (default): request and verify a client certificate; 0: no client certificate
//   MIN_VERSION        TLSv1.2 (default) / TLSv1.3;  MAX_VERSION: TLSv1.3 (default) / TLSv1.2
//   ECDH_CURVE         OpenSSL group list (default Node's: 'auto'); e.g. X25519, X25519MLKEM768:X25519
//   TICKETS            0 (default): SSL_OP_NO_TICKET like ztproxy; 1: tickets on
//   HTTP               0 (default): raw node:tls; 1: node:https server (the `floor`)
//   ENCODING           latin1 (default, like the tls floor) / none (Buffers, no StringDecoder per socket)
//   NODELAY            1: socket.setNoDelay(true) on each connection
//   HWM                highWaterMark for the server's sockets (net.Server option), bytes
//   KEEP_PEER          1: keep socket.getPeerCertificate() per connection (what a proxy caching the peer does)
//   PAUSE              1: socket.pause() after the first response (an idle connection not reading)
import { constants } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import tls from 'node:tls';
import v8 from 'node:v8';

const env = process.env;
const OK = Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok');
const opts = {
  key: readFileSync(env.KEY),
  cert: readFileSync(env.CERT),
  ca: readFileSync(env.CA),
  requestCert: env.REQUEST_CERT !== '0',
  rejectUnauthorized: env.REQUEST_CERT !== '0',
  minVersion: env.MIN_VERSION ?? 'TLSv1.2',
  maxVersion: env.MAX_VERSION ?? 'TLSv1.3',
  secureOptions: env.TICKETS === '1' ? 0 : constants.SSL_OP_NO_TICKET,
};
if (env.ECDH_CURVE) opts.ecdhCurve = env.ECDH_CURVE;
if (env.HWM) opts.highWaterMark = Number(env.HWM);
const kept = [];
const groups = new Map();

function onSocket(socket) {
  if (env.NODELAY === '1') socket.setNoDelay(true);
  if (env.KEEP_PEER === '1') kept.push(socket.getPeerCertificate(true));
  socket.on('error', () => socket.destroy());
  if (env.HTTP === '1') return;
  if (env.ENCODING !== 'none') socket.setEncoding(env.ENCODING ?? 'latin1');
  let pending = '';
  socket.on('data', (d) => {
    pending += typeof d === 'string' ? d : d.toString('latin1');
    if (pending.includes('\r\n\r\n')) {
      pending = '';
      socket.write(OK);
      if (env.PAUSE === '1') socket.pause();
    }
  });
}

let server;
if (env.HTTP === '1') {
  server = https.createServer(opts, (req, res) => {
    res.setHeader('content-length', 2);
    res.end('ok');
  });
  server.on('secureConnection', onSocket);
  server.keepAliveTimeout = 0; // idle connections stay (the default 5 s would close them before the measurement)
} else server = tls.createServer(opts, onSocket);
server.on('secureConnection', (s) => {
  const k = s.getProtocol();
  groups.set(k, (groups.get(k) ?? 0) + 1);
});

function kb(text, field) {
  const m = text.match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return m ? Number(m[1]) : null;
}

async function measure() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await new Promise((r) => setTimeout(r, 100));
  }
  const status = readFileSync('/proc/self/status', 'utf8');
  const roll = readFileSync('/proc/self/smaps_rollup', 'utf8');
  const mu = process.memoryUsage();
  const hs = v8.getHeapStatistics();
  return {
    rssKB: kb(status, 'VmRSS'),
    anonKB: kb(status, 'RssAnon'),
    hwmKB: kb(status, 'VmHWM'),
    privateDirtyKB: kb(roll, 'Private_Dirty'),
    heapUsed: mu.heapUsed,
    heapTotal: mu.heapTotal,
    external: mu.external,
    arrayBuffers: mu.arrayBuffers,
    mallocedMemory: hs.malloced_memory,
    externalMemory: hs.external_memory,
    totalPhysical: hs.total_physical_size,
    connections: await new Promise((r) => server.getConnections((e, n) => r(e ? -1 : n))),
    protocols: Object.fromEntries(groups),
  };
}

server.listen(Number(env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ listening: server.address().port, pid: process.pid, node: process.version, openssl: process.versions.openssl }) + '\n');
});

let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', async (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\n')) >= 0) {
    const [cmd, arg] = buf.slice(0, i).trim().split(' ');
    buf = buf.slice(i + 1);
    if (cmd === 'measure') process.stdout.write(JSON.stringify(await measure()) + '\n');
    else if (cmd === 'snapshot') process.stdout.write(JSON.stringify({ snapshot: v8.writeHeapSnapshot(arg) }) + '\n');
    else if (cmd === 'exit') process.exit(0);
  }
});
process.stdin.on('end', () => process.exit(0));
// Stops by itself whatever happens to the driver.
setTimeout(() => process.exit(3), Number(env.LIFETIME_MS ?? 600_000)).unref();
