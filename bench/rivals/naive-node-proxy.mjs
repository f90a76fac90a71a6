// Copied verbatim from ../shared/bench/naive-node-proxy.mjs (the yardstick named in issue 9), so CI and fresh clones,
// which cannot see ../shared, run the same rival. undici resolves from the root node_modules.
// A naive Node mTLS reverse proxy (https + undici Pool, DN cached per connection): the yardstick ztproxy must beat.
// Run: CERT_DIR=dir-with-server.key/server.crt/ca.crt UPSTREAM=http://127.0.0.1:PORT PORT=9131 WORKERS=1 node naive-node-proxy.mjs (needs undici@7 resolvable).
// Env: PORT (9131), WORKERS (1 = single process, N>1 = node:cluster), CERT_DIR, UPSTREAM.
import https from 'node:https';
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { pipeline } from 'node:stream';
import { Pool } from 'undici';

const PORT = Number(process.env.PORT || 9131);
const WORKERS = Number(process.env.WORKERS || 1);
const CERT_DIR = process.env.CERT_DIR || '/tmp/anchorperf/certs/ec';
const UPSTREAM = process.env.UPSTREAM || 'http://127.0.0.1:9000';

if (WORKERS > 1 && cluster.isPrimary) {
  for (let i = 0; i < WORKERS; i++) cluster.fork();
  const stop = () => { for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM'); process.exit(0); };
  process.on('SIGTERM', stop); process.on('SIGINT', stop);
} else {
  const pool = new Pool(UPSTREAM, { connections: 64, pipelining: 1, keepAliveTimeout: 60_000 });
  const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'x-client-subject-dn']);
  // RFC 4514-style string from Node's subject object (keys are in certificate order; RFC 4514 reverses).
  const esc = (v) => String(v).replace(/([,+"\\<>;=])/g, '\\$1').replace(/^([ #])/, '\\$1').replace(/ $/, '\\ ');
  const dnCache = new WeakMap(); // one getPeerCertificate() per TLS connection, not per request
  function subjectDN(sock) {
    let dn = dnCache.get(sock);
    if (dn === undefined) {
      const subj = sock.getPeerCertificate().subject || {};
      dn = Object.entries(subj).reverse()
        .map(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${k}=${esc(x)}`).join('+')).join(',');
      dnCache.set(sock, dn);
    }
    return dn;
  }
  const server = https.createServer({
    key: readFileSync(`${CERT_DIR}/server.key`), cert: readFileSync(`${CERT_DIR}/server.crt`),
    ca: readFileSync(`${CERT_DIR}/ca.crt`), requestCert: true, rejectUnauthorized: true,
  }, (req, res) => {
    const headers = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k)) headers[k] = v;
    headers['x-client-subject-dn'] = subjectDN(req.socket);
    const hasBody = !(req.method === 'GET' || req.method === 'HEAD');
    pool.request({ method: req.method, path: req.url, headers, body: hasBody ? req : null })
      .then(({ statusCode, headers: uh, body }) => {
        for (const h of HOP) delete uh[h];
        res.writeHead(statusCode, uh); // content-length passes through, so HTTP/1.0 keep-alive works
        pipeline(body, res, () => {});
      })
      .catch(() => { if (!res.headersSent) { res.writeHead(502); } res.end(); });
  });
  server.keepAliveTimeout = 65_000;
  server.listen(PORT, '127.0.0.1');
}
