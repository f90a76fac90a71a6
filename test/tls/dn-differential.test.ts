/**
 * Differential test with a real nginx as the oracle: every DN golden case
 * becomes a client certificate, and one request goes through nginx
 * (ssl_verify_client on, proxy_set_header with $ssl_client_s_dn,
 * $ssl_client_i_dn, $ssl_client_verify, $ssl_client_serial,
 * $ssl_client_fingerprint, $ssl_client_escaped_cert) and one through
 * ztproxy (same certificates, every optional identity header on) to the
 * same upstream. That upstream is a raw TCP server that records the request
 * head bytes as they arrive, so "byte-identical" means on the wire, before
 * any HTTP parser trims a trailing space.
 *
 * The client forges every identity header; both proxies must replace it.
 * For the empty subject nginx sends no X-Client-Subject-DN (proxy_set_header
 * drops a header whose value is empty, and the client's copy is still
 * removed); ztproxy must do the same. A request without a client
 * certificate reaches the upstream through neither proxy. (Subjects OpenSSL
 * cannot decode are covered in dn.test.ts: the client's own OpenSSL refuses
 * to load such a certificate, the same d2i_X509 both proxies run.)
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { createHash, createPrivateKey, sign } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sequenceChildren, tlv } from '../../src/ca/der.js';
import { makePki } from '../helpers/pki.js';
import { freePort, nginxSkip, startNginx, waitForPort } from '../helpers/nginx.js';
import { loadCases, mintCases, type MintedCase } from './dn-cases.js';
import { parseXfcc } from './xfcc.js';

const MAIN = process.env.ZTPROXY_MAIN ?? fileURLToPath(new URL('../../dist/main.js', import.meta.url));

/** The headers compared, with the nginx variable each one carries. */
const COMPARED: [header: string, variable: string][] = [
  ['x-client-subject-dn', '$ssl_client_s_dn'],
  ['x-client-issuer-dn', '$ssl_client_i_dn'],
  ['x-client-verify', '$ssl_client_verify'],
  ['x-client-serial', '$ssl_client_serial'],
  ['x-client-fingerprint', '$ssl_client_fingerprint'],
  ['x-client-cert', '$ssl_client_escaped_cert'],
];
const FORGED = [...COMPARED.map(([h]) => h), 'x-forwarded-client-cert'];

type Head = [name: string, value: string][];

/**
 * Upstream that answers every request with the JSON of its raw header lines
 * (name lower-cased, value exactly as sent after the colon and optional
 * leading whitespace, Latin-1). Requests carry no body (GET only).
 */
function rawEcho(): { server: Server; heads: Head[] } {
  const heads: Head[] = [];
  const server = createServer((sock: Socket) => {
    let buf = Buffer.alloc(0);
    sock.on('error', () => {});
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (let end = buf.indexOf('\r\n\r\n'); end !== -1; end = buf.indexOf('\r\n\r\n')) {
        const lines = buf.subarray(0, end).toString('latin1').split('\r\n').slice(1);
        buf = buf.subarray(end + 4);
        const head: Head = lines.map((l) => {
          const i = l.indexOf(':');
          return [l.slice(0, i).toLowerCase(), l.slice(i + 1).replace(/^[ \t]+/, '')];
        });
        heads.push(head);
        const body = Buffer.from(JSON.stringify(head), 'latin1');
        sock.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
        sock.write(body);
      }
    });
  });
  return { server, heads };
}

interface Reply {
  status: number;
  head: Head;
}

/** One GET over a fresh TLS connection, presenting `c`'s certificate and forging every identity header. */
function get(port: number, ca: string, c: { certPem: string; keyFile: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    for (const h of FORGED) headers[h] = 'CN=forged';
    const req = request({ host: '127.0.0.1', port, servername: 'localhost', path: '/', ca, cert: c.certPem, key: readFileSync(c.keyFile), agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('latin1');
        resolve({ status: res.statusCode ?? 0, head: res.statusCode === 200 ? (JSON.parse(text) as Head) : [] });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const values = (head: Head, name: string): string[] => head.filter(([n]) => n === name).map(([, v]) => v);

/** Starts `node dist/main.js serve --config` and waits until it listens; stopped by teardown. */
async function startZtproxy(t: Test, dir: string, tls: { cert: string; key: string; clientCA: string }, upstreamPort: number): Promise<number> {
  const port = await freePort();
  const config = join(dir, 'ztproxy.yaml');
  writeFileSync(
    config,
    `listen: 127.0.0.1:${port}
workers: 1
tls: { cert: ${tls.cert}, key: ${tls.key}, clientCA: ${tls.clientCA}, verifyDepth: 3 }
routes:
  - { name: all, upstream: "http://127.0.0.1:${upstreamPort}" }
identityHeaders: { issuerDN: true, verify: true, serial: true, fingerprint: true, cert: true, xfcc: true }
metrics: { listen: false }
log: { level: warn, access: false }
`,
  );
  const child = spawn(process.execPath, [MAIN, 'serve', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const done = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await done;
  });
  await waitForPort(port, () => (child.exitCode !== null ? `ztproxy exited ${child.exitCode}: ${stderr}` : undefined));
  return port;
}

const skip = nginxSkip || (existsSync(MAIN) ? false : 'dist/main.js missing: run npm run build');

t.test('identity headers: ztproxy = nginx, byte for byte, for every DN golden case', { skip }, async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const caPem = readFileSync(pki.caCert, 'utf8');
  const minted: MintedCase[] = await mintCases(dir, pki.caDir, loadCases());
  // Serials a foreign CA may have used: negative (RFC 5280 forbids it, OpenSSL verifies it
  // anyway and prints "-" + magnitude) and with DER sign padding. Same subject as the first case.
  const caKey = createPrivateKey(readFileSync(join(pki.caDir, 'ca.key')));
  const withSerial = (base: MintedCase, name: string, serialHex: string): MintedCase => {
    const [tbs, alg] = sequenceChildren(base.der, 'certificate');
    const fields = sequenceChildren(tbs!, 'tbsCertificate');
    fields[1] = tlv(0x02, Buffer.from(serialHex, 'hex'));
    const newTbs = tlv(0x30, Buffer.concat(fields));
    const der = tlv(0x30, Buffer.concat([newTbs, alg!, tlv(0x03, Buffer.concat([Buffer.from([0]), sign('sha256', newTbs, caKey)]))]));
    const certPem = `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
    return { ...base, name, der, certPem };
  };
  minted.push(withSerial(minted[0]!, 'serial-negative', 'ff7f'), withSerial(minted[0]!, 'serial-padded', '0080ab'));

  const echo = rawEcho();
  await new Promise<void>((r) => echo.server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => echo.server.close(() => r())));
  echo.server.unref();
  const upstreamPort = (echo.server.address() as { port: number }).port;

  const ngx = await startNginx(t, {
    dir,
    http: (port) => `  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${pki.server.cert};
    ssl_certificate_key ${pki.server.key};
    ssl_client_certificate ${pki.caCert};
    ssl_verify_client on;
    ssl_verify_depth 3;
    location / {
      proxy_pass http://127.0.0.1:${upstreamPort};
${COMPARED.map(([h, v]) => `      proxy_set_header ${h} ${v};`).join('\n')}
      proxy_set_header x-forwarded-client-cert "";
    }
  }`,
  });
  const ztp = await startZtproxy(t, dir, { cert: pki.server.cert, key: pki.server.key, clientCA: pki.caCert }, upstreamPort);

  let identical = 0;
  for (const c of minted) {
    const viaNginx = await get(ngx.port, caPem, c);
    const viaZtp = await get(ztp, caPem, c);
    t.equal(viaNginx.status, 200, `${c.name}: nginx 200`);
    t.equal(viaZtp.status, 200, `${c.name}: ztproxy 200`);
    let same = true;
    for (const [h] of COMPARED) {
      const n = values(viaNginx.head, h);
      const z = values(viaZtp.head, h);
      t.same(z, n, `${c.name}: ${h}`);
      if (JSON.stringify(z) !== JSON.stringify(n)) same = false;
      for (const v of z) t.match(v, /^[\x20-\x7e]*$/, `${c.name}: ${h} is printable ASCII`);
    }
    if (same) identical++;
    // nginx's DN is the golden string; an empty one is not sent at all, and the forged copy is gone too.
    t.same(values(viaNginx.head, 'x-client-subject-dn'), c.expected === '' ? [] : [c.expected], `${c.name}: nginx subject = .out`);
    t.same(values(viaZtp.head, 'x-client-verify'), ['SUCCESS']);
    t.same(values(viaZtp.head, 'x-client-fingerprint'), [createHash('sha1').update(c.der).digest('hex')]);

    // XFCC: exactly one element, its Subject the DN, its Hash the SHA-256 of the DER; nothing forged.
    const xfcc = values(viaZtp.head, 'x-forwarded-client-cert');
    t.equal(xfcc.length, 1, `${c.name}: one XFCC header`);
    const parsed = parseXfcc(xfcc[0]!);
    t.equal(parsed.length, 1, `${c.name}: one XFCC element`);
    t.same(parsed[0]!.Subject, [c.expected], `${c.name}: XFCC Subject = DN`);
    t.same(parsed[0]!.Hash, [createHash('sha256').update(c.der).digest('hex')], `${c.name}: XFCC Hash`);
    t.same(Object.keys(parsed[0]!).sort(), ['Hash', 'Subject', ...(parsed[0]!.URI ? ['URI'] : []), ...(parsed[0]!.DNS ? ['DNS'] : [])].sort(), `${c.name}: XFCC keys`);
    if (c.name === 'serial-negative') t.same(values(viaNginx.head, 'x-client-serial'), ['-81'], 'negative serial: "-" + magnitude');
    if (c.name === 'serial-padded') t.same(values(viaNginx.head, 'x-client-serial'), ['80AB'], 'sign padding dropped');
    if (c.name === 'empty-subject-san-only') {
      t.same(parsed[0]!.URI, ['spiffe://example.internal/ns/prod/sa/svc']);
      t.same(parsed[0]!.DNS, ['svc.internal']);
    }
  }
  t.equal(identical, minted.length, `identity headers identical for ${identical}/${minted.length} certificates`);
  t.comment(`${minted.length - 2} DN cases (+2 serial cases) through nginx and ztproxy: ${identical}/${minted.length} byte-identical`);

  // Reject side: without a client certificate neither proxy reaches the upstream.
  const before = echo.heads.length;
  for (const port of [ngx.port, ztp]) {
    const anon = await new Promise<number | Error>((resolve) => {
      const req = request({ host: '127.0.0.1', port, servername: 'localhost', path: '/', ca: caPem, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', resolve);
      req.end();
    });
    t.not(anon, 200, `no client certificate: refused by ${port === ztp ? 'ztproxy' : 'nginx'}`);
  }
  t.equal(echo.heads.length, before, 'the upstream saw none of the refused requests');
});

t.test('parseXfcc reads quoted values with escaped separators as one field', async (t) => {
  t.same(parseXfcc('Hash=ab;Subject="CN=a\\";Hash=00,x";URI="spiffe://e/x",Hash=cd'), [{ Hash: ['ab'], Subject: ['CN=a";Hash=00,x'], URI: ['spiffe://e/x'] }, { Hash: ['cd'] }]);
  t.throws(() => parseXfcc('Subject="open'));
  t.throws(() => parseXfcc('Hash'));
});
