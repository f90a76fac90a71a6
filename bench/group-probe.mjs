// Prints the key-exchange group a TLS client of this Node.js (its OpenSSL's default groups: X25519MLKEM768
// first on Node 24 / OpenSSL 3.5, X25519 first on Node 20 / OpenSSL 3.0) negotiates with a server, as the
// client sees it (getEphemeralKeyInfo). The bench records it next to what its load generators negotiate.
// Run: node group-probe.mjs PORT CERT KEY
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

const [port, cert, key] = process.argv.slice(2);
const s = tls.connect({ host: '127.0.0.1', port: Number(port), cert: readFileSync(cert), key: readFileSync(key), rejectUnauthorized: false }, () => {
  process.stdout.write(`${s.getEphemeralKeyInfo()?.name ?? '?'}\n`);
  s.end('GET / HTTP/1.0\r\n\r\n');
});
s.on('data', () => {});
s.on('error', (e) => {
  process.stderr.write(`${e.message}\n`);
  process.exitCode = 1;
});
