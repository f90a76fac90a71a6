// The undici floor: the floor (node-https-floor.mjs) forwarding every request through an undici Pool with
// `dispatch` and a minimal handler (status, end-to-end headers and body relayed with backpressure, 502 on failure),
// the client's DN as X-Client-Subject-DN and nothing else: no header rewriting or stripping, no routing,
// no policy, no request id, no metrics, no logging. Not a proxy anyone should run; it is the least a Node
// proxy built on undici pays per request. So `undici − hop` is undici's own cost (request validation,
// the head serializer, llhttp in WebAssembly, the pool) and `zt − undici` what ztproxy's features cost.
// Run: CERT=server.crt KEY=server.key CA=ca.crt PORT=19408 UPSTREAM=19400 node node-undici-floor.mjs
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../../package.json', import.meta.url));
const { Pool } = require('undici'); // the root's undici, the one ztproxy uses
const { certificateParts } = await import('../../dist/tls/der.js');
const { formatName } = await import('../../dist/tls/dn.js');
const env = process.env;
const pool = new Pool(`http://127.0.0.1:${env.UPSTREAM}`, { connections: 64 });
const DN = Symbol('client DN');
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-connection']);

function dnOf(socket) {
  let dn = socket[DN];
  if (dn === undefined) {
    const der = new X509Certificate(socket.getPeerCertificate(false).raw).raw;
    dn = socket[DN] = Buffer.from(formatName(der, certificateParts(der).subject), 'utf8').toString('latin1');
  }
  return dn;
}

class Relay {
  constructor(res) {
    this.res = res;
  }
  onConnect() {}
  onHeaders(status, raw, resume) {
    const headers = [];
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i].toString('latin1');
      if (!HOP_BY_HOP.has(name.toLowerCase())) headers.push(name, raw[i + 1].toString('latin1')); // Node decides keep-alive for its client
    }
    this.res.writeHead(status, headers);
    this.resume = resume;
    return true;
  }
  onData(chunk) {
    const ok = this.res.write(chunk);
    if (!ok) this.res.once('drain', this.resume);
    return ok;
  }
  onComplete() {
    this.res.end();
  }
  onError() {
    if (this.res.headersSent) this.res.destroy();
    else {
      this.res.writeHead(502, { 'content-length': 0 });
      this.res.end();
    }
  }
}

const server = https.createServer(
  { key: readFileSync(env.KEY), cert: readFileSync(env.CERT), ca: readFileSync(env.CA), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
  (req, res) => {
    const headers = ['host', req.headers.host ?? `127.0.0.1:${env.UPSTREAM}`, 'x-client-subject-dn', dnOf(req.socket)];
    pool.dispatch({ method: req.method, path: req.url, headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : req }, new Relay(res));
  },
);
server.keepAliveTimeout = 65_000;
server.listen(Number(env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => pool.close().then(() => process.exit(0))));
