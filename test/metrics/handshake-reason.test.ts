// Real handshakes against a node:tls server configured like ztproxy's listener (client CA, CRL,
// requestCert, rejectUnauthorized): the reason label of each kind of failure.
import t from 'tap';
import { connect as netConnect, type Socket } from 'node:net';
import { createServer, connect, type TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makePki } from '../helpers/pki.js';
import { handshakeFailureReason } from '../../src/metrics/handshake-reason.js';
import type { HandshakeFailureReason } from '../../src/metrics/definitions.js';

t.test('pure mapping', async (t) => {
  t.equal(handshakeFailureReason({ code: 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE' }), 'no_certificate');
  t.equal(handshakeFailureReason({ code: 'ERR_TLS_HANDSHAKE_TIMEOUT' }), 'timeout');
  t.equal(handshakeFailureReason({ code: 'ECONNRESET' }, { authorizationError: 'SELF_SIGNED_CERT_IN_CHAIN' }), 'unknown_ca');
  t.equal(handshakeFailureReason({ code: 'ECONNRESET' }, { authorizationError: 'CERT_SIGNATURE_FAILURE' }), 'bad_certificate');
  t.equal(handshakeFailureReason(new Error('x'), { authorizationError: { code: 'CERT_REVOKED' } }), 'revoked');
  t.equal(handshakeFailureReason({ code: 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA' }), 'protocol', "a client distrusting the server's certificate");
  t.equal(handshakeFailureReason(undefined), 'protocol');
  t.equal(handshakeFailureReason('weird', { authorizationError: '' }), 'protocol');
});

t.test('real handshakes', async (t) => {
  const dir = t.testdir({ pki: {}, other: {} });
  const pki = await makePki(join(dir, 'pki'));
  const other = await makePki(join(dir, 'other'), { name: 'Some Other CA' });
  const day = 86_400_000;
  const good = await pki.client('good');
  const revoked = await pki.client('revoked');
  await pki.revoke(revoked.serial);
  const clients = {
    unknown_ca: await other.client('mallory'),
    expired: await pki.client('old', { notBefore: new Date(Date.now() - 10 * day), notAfter: new Date(Date.now() - day) }),
    revoked,
    bad_certificate: await pki.client('future', { notBefore: new Date(Date.now() + day), notAfter: new Date(Date.now() + 10 * day) }),
  };
  const ca = readFileSync(pki.caCert);

  const seen: HandshakeFailureReason[] = [];
  let secure = 0;
  const server = createServer({
    cert: readFileSync(pki.server.cert),
    key: readFileSync(pki.server.key),
    ca,
    crl: readFileSync(pki.crl),
    requestCert: true,
    rejectUnauthorized: true,
    handshakeTimeout: 300,
  });
  server.on('tlsClientError', (err, socket) => seen.push(handshakeFailureReason(err, socket)));
  server.on('secureConnection', (s) => {
    secure++;
    s.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as { port: number }).port;

  // Waits for the socket to close, then for the server's event (bounded), and returns what it saw.
  const outcome = async (s: Socket | TLSSocket): Promise<HandshakeFailureReason | 'secure' | 'none'> => {
    const before = { seen: seen.length, secure };
    s.on('error', () => {});
    s.setTimeout(10_000, () => s.destroy());
    await new Promise((resolve) => s.on('close', resolve));
    for (let i = 0; i < 100 && seen.length === before.seen && secure === before.secure; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    return secure > before.secure ? 'secure' : (seen[before.seen] ?? 'none');
  };
  const tls = (cert?: { certPem: string; keyPem: string }, extra: object = {}): TLSSocket => {
    const s = connect({ host: '127.0.0.1', port, servername: 'localhost', ca, ...(cert && { cert: cert.certPem, key: cert.keyPem }), ...extra });
    s.on('secureConnect', () => s.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'));
    s.resume();
    return s;
  };

  t.equal(await outcome(tls(good)), 'secure', 'a good certificate is accepted');
  t.equal(await outcome(tls()), 'no_certificate');
  for (const [reason, cert] of Object.entries(clients)) t.equal(await outcome(tls(cert)), reason, reason);
  t.equal(await outcome(tls(clients.unknown_ca, { maxVersion: 'TLSv1.2' })), 'unknown_ca', 'unknown_ca under TLS 1.2');
  t.equal(await outcome(tls(undefined, { maxVersion: 'TLSv1.2' })), 'no_certificate', 'no_certificate under TLS 1.2');
  const plain = netConnect(port, '127.0.0.1', () => plain.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'));
  t.equal(await outcome(plain), 'protocol', 'plain HTTP on the TLS port');
  t.equal(await outcome(tls(undefined, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1' })), 'protocol', 'TLS 1.1');
  const silent = netConnect(port, '127.0.0.1');
  t.equal(await outcome(silent), 'timeout', 'a client that sends nothing hits handshakeTimeout');
});
