// DN printing (src/tls/dn.ts formatName), the string nginx calls $ssl_client_s_dn, and the whole
// per-connection identity extraction around it (src/tls/identity.ts identityFromDer: DN x2, SANs,
// serial, two fingerprints). Both run once per TLS connection, never per request (DESIGN.md
// "Performance principles"), so their cost is part of the handshake budget (~1 ms of CPU here).
// The certificates are real DER from openssl: the 2-attribute subject `ztproxy ca issue-client`
// writes, and an 8-attribute enterprise subject with an escaped comma and a UTF-8 value.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { certificateParts } from '../../dist/tls/der.js';
import { formatName } from '../../dist/tls/dn.js';
import { identityFromDer } from '../../dist/tls/identity.js';
import { bench, consume } from './harness.mjs';

const dir = mkdtempSync(path.join(os.tmpdir(), 'ztproxy-micro-'));
function cert(subject) {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-utf8', '-subj', subject, '-days', '1',
    '-addext', 'subjectAltName=DNS:client.example.com,URI:spiffe://example.com/bench,email:bench@example.com',
    '-keyout', path.join(dir, 'k.pem'), '-outform', 'DER', '-out', path.join(dir, 'c.der')], { stdio: 'ignore' });
  return readFileSync(path.join(dir, 'c.der'));
}
const small = cert('/OU=bench/CN=bench');
const large = cert('/C=DE/ST=Berlin/L=Berlin/O=Example\\, Inc./OU=platform/OU=bench/CN=Jürgen Müller/emailAddress=jm@example.com');
rmSync(dir, { recursive: true, force: true });

for (const [label, der] of [['2 attributes', small], ['8 attributes, escapes, UTF-8', large]]) {
  const subject = certificateParts(der).subject;
  console.log(`# ${label}: ${formatName(der, subject)}`);
  bench(`formatName(subject) ${label}`, () => consume(formatName(der, subject)));
  bench(`certificateParts + formatName ${label}`, () => consume(formatName(der, certificateParts(der).subject)), 2_000);
  bench(`identityFromDer (per connection) ${label}`, () => consume(identityFromDer(der)), 1_000);
}
