/**
 * The server's TLS material: read, parsed and checked before any socket is
 * bound (and again on every reload, where a failure keeps the old material).
 */
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import tls from 'node:tls';
import type { ResolvedConfig } from '../config/index.js';
import { ZtpError } from '../util/index.js';
import { parseCrl } from './crl-list.js';
import { crlNextUpdate } from './der.js';
import { ecdhCurveOption } from './groups.js';

/** Options for tls.Server / setSecureContext, plus what metrics and `--check` report. */
export interface TlsMaterial {
  readonly options: tls.SecureContextOptions;
  /** Not-after of the server leaf, epoch ms. */
  readonly serverNotAfterMs: number;
  /** Earliest not-after among the client CAs, epoch ms. */
  readonly clientCaNotAfterMs: number;
  /** Earliest nextUpdate among the CRLs, epoch ms; null without CRL. */
  readonly crlNextUpdateMs: number | null;
  readonly serverSubject: string;
  readonly clientCaSubjects: readonly string[];
  /** The parsed client CAs (chain depth is checked against them after the handshake). */
  readonly clientCAs: readonly X509Certificate[];
  /** TLS session id context (32 hex characters) derived from the client CAs, CRL and verify depth. */
  readonly sessionIdContext: string;
  readonly crlCount: number;
  /** DER of each CRL given to OpenSSL, null without `tls.crl` (live connections are rechecked against them). */
  readonly crlDer: readonly Buffer[] | null;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const PEM_CRL = /-----BEGIN X509 CRL-----[\s\S]+?-----END X509 CRL-----/g;

async function readMaterial(path: string, key: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (cause) {
    throw new ZtpError('ZTP_TLS_MATERIAL', `${key}: cannot read ${path}`, { cause });
  }
}

function parseCerts(pem: Buffer, key: string, path: string): X509Certificate[] {
  const blocks = pem.toString('latin1').match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new ZtpError('ZTP_TLS_MATERIAL', `${key}: ${path} holds no PEM certificate`);
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (cause) {
      throw new ZtpError('ZTP_TLS_MATERIAL', `${key}: certificate ${i + 1} in ${path} does not parse`, { cause });
    }
  });
}

/**
 * TLS 1.2 suites of Mozilla's "intermediate" server configuration, without
 * its DHE ones: ECDHE key exchange with AES-GCM or ChaCha20-Poly1305, ECDSA
 * and RSA certificates. No CBC (LUCKY13), CCM, CCM8, ARIA, CAMELLIA, and no
 * static-RSA key exchange (no forward secrecy). TLS 1.3 suites stay as
 * OpenSSL offers them (all AEAD).
 */
export const INTERMEDIATE_TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/**
 * Cipher policy of the default profile, at OpenSSL security level 2, which
 * refuses RSA/DH keys under 2048 bits and SHA-1 signatures in certificate chains.
 */
export const CIPHERS = `${INTERMEDIATE_TLS12_CIPHERS}:@SECLEVEL=2`;

/** The cipher list for `tls.ciphers` (or the profile) and the lowest version for `tls.profile`. */
export function cipherPolicy(t: ResolvedConfig['tls']): { ciphers: string; minVersion: tls.SecureVersion } {
  const ciphers = t.ciphers === undefined ? CIPHERS : t.ciphers.includes('@SECLEVEL') ? t.ciphers : `${t.ciphers}:@SECLEVEL=2`;
  return { ciphers, minVersion: t.profile === 'modern' ? 'TLSv1.3' : t.minVersion };
}

/**
 * Reads and checks `tls.*` of `config`. Throws ZtpError `ZTP_TLS_MATERIAL`
 * (naming the key and file) or `ZTP_TLS_KEY_MISMATCH`.
 */
export async function loadTlsMaterial(config: ResolvedConfig): Promise<TlsMaterial> {
  const t = config.tls;
  const [cert, key, ca, crl] = await Promise.all([
    readMaterial(t.cert, 'tls.cert'),
    readMaterial(t.key, 'tls.key'),
    readMaterial(t.clientCA, 'tls.clientCA'),
    t.crl !== undefined ? readMaterial(t.crl, 'tls.crl') : Promise.resolve(undefined),
  ]);
  const chain = parseCerts(cert, 'tls.cert', t.cert);
  const leaf = chain[0]!;
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (cause) {
    throw new ZtpError('ZTP_TLS_MATERIAL', `tls.key: ${t.key} is not a readable unencrypted PEM private key`, { cause });
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new ZtpError('ZTP_TLS_KEY_MISMATCH', `tls.key: ${t.key} does not belong to the certificate in ${t.cert}`);
  }
  const cas = parseCerts(ca, 'tls.clientCA', t.clientCA);
  let crlNextUpdateMs: number | null = null;
  let crlCount = 0;
  let crlBlocks: string[] | undefined;
  let crlDer: Buffer[] | null = null;
  if (crl !== undefined) {
    const blocks = crl.toString('latin1').match(PEM_CRL) ?? [];
    if (blocks.length === 0) throw new ZtpError('ZTP_TLS_MATERIAL', `tls.crl: ${t.crl} holds no PEM CRL`);
    crlBlocks = blocks;
    crlDer = [];
    for (const b of blocks) {
      let next: number | null;
      const der = Buffer.from(b.replace(/-----[A-Z0-9 ]+-----|\s/g, ''), 'base64');
      try {
        next = crlNextUpdate(der);
        parseCrl(der);
      } catch (cause) {
        throw new ZtpError('ZTP_TLS_MATERIAL', `tls.crl: a CRL in ${t.crl} does not parse`, { cause });
      }
      crlDer.push(der);
      crlCount++;
      if (next !== null) crlNextUpdateMs = crlNextUpdateMs === null ? next : Math.min(crlNextUpdateMs, next);
    }
  }
  const options: tls.SecureContextOptions = {
    cert,
    key,
    ca,
    // One entry per CRL: given one buffer, Node adds only the first CRL in it (and with
    // CRL_CHECK_ALL a chain whose other CRLs are missing fails with UNABLE_TO_GET_CRL).
    ...(crlBlocks !== undefined ? { crl: crlBlocks } : {}),
    ...cipherPolicy(t),
    honorCipherOrder: true,
    // Key-exchange groups in preference order (tls.groups, or the post-quantum-first default); see groups.ts.
    ecdhCurve: ecdhCurveOption(t.groups),
  };
  try {
    tls.createSecureContext(options);
  } catch (cause) {
    throw new ZtpError('ZTP_TLS_MATERIAL', `tls: OpenSSL refused the material (${t.cert}, ${t.key}, ${t.clientCA}${t.crl ? `, ${t.crl}` : ''})`, { cause });
  }
  return {
    options,
    serverNotAfterMs: Date.parse(leaf.validTo),
    clientCaNotAfterMs: Math.min(...cas.map((c) => Date.parse(c.validTo))),
    crlNextUpdateMs,
    serverSubject: leaf.subject.replace(/\n/g, ', '),
    clientCaSubjects: cas.map((c) => c.subject.replace(/\n/g, ', ')),
    clientCAs: cas,
    // OpenSSL resumes a session (id, ticket or TLS 1.3 PSK) only under the same session id context, so
    // binding it to the trust material means no session made before a CA or CRL change can resume after it.
    sessionIdContext: createHash('sha256').update(ca).update(crl ?? '').update(String(t.verifyDepth)).digest('hex').slice(0, 32),
    crlCount,
    crlDer,
  };
}
