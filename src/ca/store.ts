/**
 * The on-disk CA store: one directory holding
 *
 * - `ca.crt`    this CA's certificate (the trust anchor for a root CA);
 * - `chain.crt` this CA's certificate followed by its issuers up to the root;
 * - `ca.key`    its private key, PKCS#8 PEM, mode 0600, optionally encrypted;
 * - `index.json` every certificate the CA issued (see {@link IndexEntry});
 * - `crl.pem`   the current signed CRL.
 *
 * Read-modify-write of the index always happens under {@link withDirLock}, so
 * concurrent `ztproxy ca` processes never lose an entry or reuse a serial.
 */
import { readFile, access } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { X509Certificate, PemConverter } from './x509.js';
import { ZtpError } from '../util/index.js';
import { writeFileAtomic } from '../util/index.js';
import { loadPrivateKey, toSigner, type Signer } from './keys.js';

export const CA_CERT_FILE = 'ca.crt';
export const CA_CHAIN_FILE = 'chain.crt';
export const CA_KEY_FILE = 'ca.key';
export const INDEX_FILE = 'index.json';
export const CRL_FILE = 'crl.pem';

/** What a certificate was issued for. */
export type Profile = 'client' | 'server' | 'intermediate';

/** One issued certificate in `index.json`. */
export interface IndexEntry {
  /** Lower-case hex, no leading `00` pad. */
  serial: string;
  /** Subject in RFC 2253 form (for `list` and `revoke --cn`). */
  subject: string;
  /** First CN of the subject, when any. */
  cn?: string;
  profile: Profile;
  notBefore: string;
  notAfter: string;
  /** ISO 8601 time of revocation; absent while the certificate is not revoked. */
  revokedAt?: string;
  /** RFC 5280 reason name (`keyCompromise`, …). */
  reason?: string;
  /** Where the certificate was written, when known. */
  certPath?: string;
}

/** `index.json`. `crlNumber` is the last CRL number used. */
export interface StoreIndex {
  version: 1;
  crlNumber: number;
  /** Default CRL distribution point URL put in issued certificates (`ca init --crl-url`). */
  crlUrl?: string;
  entries: IndexEntry[];
}

/** A CA store loaded for signing. */
export interface LoadedCA {
  dir: string;
  cert: X509Certificate;
  certPem: string;
  /** Certificates to append to leaves: this CA and its non-root issuers (PEM each). */
  embedChain: string[];
  signer: Signer;
}

/** The CA directory: `dir`, else `$ZTPROXY_CA_DIR`; `ZTP_CA_INVALID_INPUT` when neither is set. */
export function resolveDir(dir: string | undefined): string {
  const d = dir ?? process.env.ZTPROXY_CA_DIR;
  if (!d) throw new ZtpError('ZTP_CA_INVALID_INPUT', 'no CA directory: pass --dir or set ZTPROXY_CA_DIR');
  return d;
}

export async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** A random positive 128-bit serial, lower-case hex, never one already in `taken`. */
export function newSerial(taken: ReadonlySet<string>): string {
  for (;;) {
    const b = randomBytes(16);
    // A zero first byte would shorten the hex and make the DER INTEGER differ
    // from the index; a set high bit is handled by the encoder (it prepends 00).
    if (b[0] === 0) continue;
    const hex = b.toString('hex');
    if (!taken.has(hex)) return hex;
  }
}

/** Splits a PEM bundle into single-certificate PEM blocks. */
export function splitPem(text: string): string[] {
  return PemConverter.decode(text).map((der) => PemConverter.encode(der, 'CERTIFICATE'));
}

export async function readIndex(dir: string): Promise<StoreIndex> {
  let text: string;
  try {
    text = await readFile(join(dir, INDEX_FILE), 'utf8');
  } catch (cause) {
    throw new ZtpError('ZTP_CA_NOT_FOUND', `no CA store in ${dir} (run "ztproxy ca init --dir ${dir}")`, { cause });
  }
  try {
    const idx = JSON.parse(text) as StoreIndex;
    if (!Array.isArray(idx.entries)) throw new Error('entries is not an array');
    return idx;
  } catch (cause) {
    throw new ZtpError('ZTP_CA_INVALID_INPUT', `corrupt index ${join(dir, INDEX_FILE)}`, { cause });
  }
}

export async function writeIndex(dir: string, idx: StoreIndex): Promise<void> {
  await writeFileAtomic(join(dir, INDEX_FILE), JSON.stringify(idx, null, 2) + '\n', 0o600);
}

/**
 * Loads the CA certificate, chain and key of `dir`. Throws `ZTP_CA_NOT_FOUND`
 * when the store is missing, `ZTP_CA_STORE` naming the file when ca.crt or
 * chain.crt does not parse, `ZTP_CA_PASSPHRASE` on a wrong or missing passphrase.
 */
export async function loadCA(dir: string, passphrase?: string): Promise<LoadedCA> {
  let certPem: string;
  let keyPem: string;
  try {
    certPem = await readFile(join(dir, CA_CERT_FILE), 'utf8');
    keyPem = await readFile(join(dir, CA_KEY_FILE), 'utf8');
  } catch (cause) {
    throw new ZtpError('ZTP_CA_NOT_FOUND', `no CA store in ${dir} (run "ztproxy ca init --dir ${dir}")`, { cause });
  }
  const cert = await storeFile(join(dir, CA_CERT_FILE), async () => new X509Certificate(certPem));
  const chainPath = join(dir, CA_CHAIN_FILE);
  const chainText = await readFile(chainPath, 'utf8').catch(() => certPem);
  const embedChain = await storeFile(chainPath, async () => {
    const blocks = splitPem(chainText);
    // It holds at least ca.crt: an empty one would silently drop the intermediates from every leaf.
    if (blocks.length === 0) throw new Error('no PEM certificate in it');
    const pems: string[] = [];
    for (const pem of blocks) if (!(await new X509Certificate(pem).isSelfSigned())) pems.push(pem);
    return pems;
  });
  const key = loadPrivateKey(keyPem, passphrase || undefined, join(dir, CA_KEY_FILE));
  return { dir, cert, certPem: cert.toString('pem') + '\n', embedChain, signer: await toSigner(key) };
}

/** Runs `parse` on a store file; what x509/asn1js throw on a corrupt file becomes `ZTP_CA_STORE` naming it. */
async function storeFile<T>(path: string, parse: () => Promise<T>): Promise<T> {
  try {
    return await parse();
  } catch (cause) {
    throw new ZtpError('ZTP_CA_STORE', `corrupt CA store file ${path}: it does not parse as a certificate`, { cause });
  }
}
