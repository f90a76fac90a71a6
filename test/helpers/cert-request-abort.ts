/**
 * A TLS client that behaves like Chromium in its certificate-selection round:
 * it sends a real ClientHello (Node's TLS client makes it), reads the server's
 * flight up to and including the CertificateRequest, and instead of answering
 * it closes the TCP connection (BoringSSL stops at the CertificateRequest with
 * SSL_ERROR_WANT_X509_LOOKUP, Chromium fails the attempt with
 * ERR_SSL_CLIENT_AUTH_CERT_NEEDED and closes the socket without an alert:
 * SSL_shutdown during a handshake sends nothing). The TLS client's own answer
 * is what tells that the flight was read: its first write after the
 * ClientHello is the answer, which is dropped and replaced by the close.
 */
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';

export interface AbortOptions {
  ca: Buffer;
  servername?: string;
  version: tls.SecureVersion;
  /** Close with RST instead of FIN. */
  reset?: boolean;
}

/** Resolves once the connection is closed; `answered`: the client had processed the server flight. */
export function abortAtCertificateRequest(port: number, o: AbortOptions): Promise<{ answered: boolean }> {
  return new Promise((resolve) => {
    const raw = net.connect(port, '127.0.0.1');
    let writes = 0;
    let answered = false;
    const wire = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        writes++;
        if (writes === 1) {
          raw.write(chunk, cb);
          return;
        }
        cb();
        if (answered) return;
        answered = true;
        if (o.reset) raw.resetAndDestroy();
        else raw.end();
      },
    });
    raw.on('data', (b: Buffer) => wire.push(b));
    raw.on('error', () => {});
    raw.on('close', () => {
      client.destroy();
      wire.destroy();
      resolve({ answered });
    });
    const client = tls.connect({ socket: wire, ca: o.ca, servername: o.servername ?? 'localhost', minVersion: o.version, maxVersion: o.version });
    client.on('error', () => {});
  });
}
