// The floor: a bare node:https server with the same mTLS options as the proxies, answering every
// request 200 "ok" itself: no upstream, no proxying, no logging. What Node's TLS and HTTP server
// cost per request and per handshake before any proxy work, i.e. the part of ztproxy's cost that
// sits inside Node core. /dn answers the client's DN (printed by ztproxy's own formatName) so the
// harness's identity check runs unchanged.
// Run: CERT=server.crt KEY=server.key CA=ca.crt PORT=19406 node node-https-floor.mjs
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';

const { certificateParts } = await import('../../dist/tls/der.js');
const { formatName } = await import('../../dist/tls/dn.js');
const env = process.env;
const server = https.createServer(
  { key: readFileSync(env.KEY), cert: readFileSync(env.CERT), ca: readFileSync(env.CA), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
  (req, res) => {
    if (req.url === '/dn') {
      const der = new X509Certificate(req.socket.getPeerCertificate(false).raw).raw;
      const dn = formatName(der, certificateParts(der).subject);
      res.writeHead(200, { 'content-length': Buffer.byteLength(dn) });
      res.end(dn);
      return;
    }
    res.writeHead(200, { 'content-length': 2 });
    res.end('ok');
  },
);
server.keepAliveTimeout = 65_000;
server.listen(Number(env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
