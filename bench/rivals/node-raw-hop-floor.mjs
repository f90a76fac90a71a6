// The hop floor: a bare node:https server with the same mTLS options as node-https-floor.mjs that
// forwards every request to the upstream over plain keep-alive TCP sockets (node:net) with a
// hand-written minimal HTTP/1.1 client: no undici, no http.Agent, no header validation, no logging,
// no metrics. Not a proxy anyone should run (bodiless requests only, content-length responses only,
// no Via/X-Forwarded-*, no hop-by-hop header handling); it is the least any Node proxy pays for the
// second hop, i.e. one plain-TCP write and one read per request plus Node's net.Socket path, on top
// of the floor. So `zt − hop` is what undici and ztproxy's own features cost, and `hop − floor` what
// the hop itself costs in Node. The client's DN (printed by ztproxy's own formatName, once per TLS
// connection) goes upstream as X-Client-Subject-DN, so the harness's identity check runs unchanged.
// Run: CERT=server.crt KEY=server.key CA=ca.crt PORT=19407 UPSTREAM=19400 node node-raw-hop-floor.mjs
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';

const { certificateParts } = await import('../../dist/tls/der.js');
const { formatName } = await import('../../dist/tls/dn.js');
const env = process.env;
const UP_HOST = '127.0.0.1';
const UP_PORT = Number(env.UPSTREAM);
const DN = Symbol('client DN'); // on the client's TLS socket: its DN as the latin1 string of its UTF-8 bytes

/** Idle upstream connections, shared by all client connections: taken per request, given back when its response is complete. */
const free = [];

/** One keep-alive TCP connection to the upstream, carrying one request at a time. */
class Hop {
  constructor() {
    this.socket = net.connect(UP_PORT, UP_HOST);
    this.socket.setNoDelay(true);
    this.job = null; // the request in flight: { res, head, headOnly, retried }
    this.buf = null; // response bytes received so far
    this.bodyStart = -1; // offset of the body in buf once the head is parsed
    this.total = 0; // head + body length once the head is parsed
    this.status = 0;
    this.length = 0; // the response's content-length (also for HEAD, whose body is empty)
    this.type = '';
    this.keep = true;
    this.used = false; // carried a response before (a failure before any byte may be a stale keep-alive)
    this.socket.on('data', (chunk) => this.onData(chunk));
    this.socket.on('error', () => this.gone());
    this.socket.on('close', () => this.gone());
  }

  send(job) {
    this.job = job;
    this.socket.write(job.head, 'latin1');
  }

  onData(chunk) {
    const job = this.job;
    if (job === null) return void this.socket.destroy(); // bytes nobody asked for
    const buf = (this.buf = this.buf === null ? chunk : Buffer.concat([this.buf, chunk]));
    if (this.bodyStart < 0) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buf.length > 65536) this.fail();
        return;
      }
      const h = buf.toString('latin1', 0, end);
      const status = h.startsWith('HTTP/1.') && h.charCodeAt(8) === 32 ? Number(h.slice(9, 12)) : NaN;
      let length = -1;
      let type = 'text/plain';
      for (let i = h.indexOf('\r\n'); i >= 0; ) {
        const j = h.indexOf('\r\n', i + 2);
        const line = j < 0 ? h.slice(i + 2) : h.slice(i + 2, j);
        i = j;
        const c = line.indexOf(':');
        if (c < 0) continue;
        const name = line.slice(0, c).toLowerCase();
        if (name === 'content-length') length = Number(line.slice(c + 1).trim());
        else if (name === 'content-type') type = line.slice(c + 1).trim();
        else if (name === 'transfer-encoding') length = NaN; // chunked: not handled here
        else if (name === 'connection' && line.slice(c + 1).trim().toLowerCase() === 'close') this.keep = false;
      }
      if (!(Number.isInteger(status) && status >= 200 && status <= 599) || !(Number.isInteger(length) && length >= 0)) return this.fail();
      this.status = status;
      this.type = type;
      this.length = length;
      this.bodyStart = end + 4;
      this.total = this.bodyStart + (job.headOnly || status === 204 || status === 304 ? 0 : length);
    }
    if (buf.length < this.total) return;
    if (buf.length > this.total) this.keep = false; // more than one response: out of step, do not reuse
    const body = buf.subarray(this.bodyStart, this.total);
    const { status, type, length } = this;
    this.job = null;
    this.buf = null;
    this.bodyStart = -1;
    this.used = true;
    if (this.keep) free.push(this);
    else this.socket.destroy();
    job.res.writeHead(status, { 'content-type': type, 'content-length': job.headOnly ? length : body.length });
    job.res.end(body);
  }

  /** Upstream answered something this client does not handle: drop the connection, 502. */
  fail() {
    const job = this.job;
    this.job = null;
    this.socket.destroy();
    if (job !== null) answer(job.res, 502);
  }

  /** The connection errored or closed: off the free list; a request in flight is retried once on a fresh connection if it may have met a stale keep-alive, else 502. */
  gone() {
    const i = free.indexOf(this);
    if (i >= 0) free.splice(i, 1);
    const job = this.job;
    if (job === null) return;
    this.job = null;
    this.socket.destroy();
    if (this.used && this.buf === null && !job.retried) {
      job.retried = true;
      new Hop().send(job);
    } else answer(job.res, 502);
  }
}

function answer(res, status) {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-length': 0 });
  res.end();
}

const server = https.createServer(
  { key: readFileSync(env.KEY), cert: readFileSync(env.CERT), ca: readFileSync(env.CA), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
  (req, res) => {
    const h = req.headers;
    if ((h['content-length'] !== undefined && h['content-length'] !== '0') || h['transfer-encoding'] !== undefined) return answer(res, 501);
    const tls = req.socket;
    let dn = tls[DN];
    if (dn === undefined) {
      const der = new X509Certificate(tls.getPeerCertificate(false).raw).raw;
      dn = tls[DN] = Buffer.from(formatName(der, certificateParts(der).subject), 'utf8').toString('latin1');
    }
    const head = `${req.method} ${req.url} HTTP/1.1\r\nhost: ${h.host ?? `${UP_HOST}:${UP_PORT}`}\r\nx-client-subject-dn: ${dn}\r\n\r\n`;
    (free.pop() ?? new Hop()).send({ res, head, headOnly: req.method === 'HEAD', retried: false });
  },
);
server.keepAliveTimeout = 65_000;
server.listen(Number(env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
