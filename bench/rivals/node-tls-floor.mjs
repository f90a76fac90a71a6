// The TLS floor: a bare node:tls server with the same mTLS options as ztproxy's defaults (TLS 1.2+, client
// certificate required, no session tickets, the same key-exchange groups) that answers every request head with a fixed 200 "ok" itself:
// no HTTP server (no llhttp, no IncomingMessage / ServerResponse), no upstream. Not HTTP anyone should
// serve (bodiless requests only, no validation); it is what Node's TLS socket alone costs per request, per
// handshake and per idle connection, the rung below `floor` (node:https). /dn answers the client's DN
// (printed by ztproxy's own formatName) so the harness's identity check runs unchanged.
// Run: CERT=server.crt KEY=server.key CA=ca.crt PORT=19409 node node-tls-floor.mjs
import { constants, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

const { certificateParts } = await import('../../dist/tls/der.js');
const { formatName } = await import('../../dist/tls/dn.js');
const { ecdhCurveOption } = await import('../../dist/tls/groups.js');
const env = process.env;
const OK_KEEP = Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok');
const OK_CLOSE = Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok');

function dnResponse(socket) {
  const der = new X509Certificate(socket.getPeerCertificate(false).raw).raw;
  const dn = Buffer.from(formatName(der, certificateParts(der).subject), 'utf8');
  return Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: ${dn.length}\r\nconnection: close\r\n\r\n`), dn]);
}

const server = tls.createServer(
  { key: readFileSync(env.KEY), cert: readFileSync(env.CERT), ca: readFileSync(env.CA), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2', secureOptions: constants.SSL_OP_NO_TICKET, ecdhCurve: ecdhCurveOption(undefined) },
  (socket) => {
    let pending = '';
    socket.setEncoding('latin1');
    socket.on('error', () => socket.destroy());
    socket.on('data', (d) => {
      pending += d;
      let end;
      while ((end = pending.indexOf('\r\n\r\n')) >= 0) {
        const head = pending.slice(0, end);
        pending = pending.slice(end + 4);
        if (head.startsWith('GET /dn ')) return socket.end(dnResponse(socket));
        // HTTP/1.1 keeps the connection unless it says close; HTTP/1.0 (ab, s_time) only when it asks.
        const keep = /^[^\r]* HTTP\/1\.1(?:\r|$)/.test(head) ? !/\r\nconnection: *close/i.test(head) : /\r\nconnection: *keep-alive/i.test(head);
        if (!keep) return socket.end(OK_CLOSE);
        socket.write(OK_KEEP);
      }
      if (pending.length > 16384) socket.destroy();
    });
  },
);
server.listen(Number(env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
