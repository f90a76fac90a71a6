/**
 * Creating CA stores: a self-signed root (`initCA`) or an intermediate signed
 * by another store (`initIntermediateCA`).
 */
import { mkdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import * as x509 from './x509.js';
import { ZtpError } from '../util/index.js';
import { withDirLock, writeFileAtomic } from '../util/index.js';
import { generateKeyPair, parseKeyType, privateKeyPem, spkiDer, toSigner, type KeyType } from './keys.js';
import { caExtensions, checkCrlUrl, checkText, crlDistributionPointExtension, nameConstraintsExtension, signCertificate, validityFor } from './build.js';
import { signCrlInto } from './crl.js';
import { formatSubject } from './subject.js';
import { CA_CERT_FILE, CA_CHAIN_FILE, CA_KEY_FILE, CRL_FILE, INDEX_FILE, exists, loadCA, newSerial, readIndex, resolveDir, splitPem, writeIndex, type StoreIndex } from './store.js';

/** Default root name and lifetimes. */
export const DEFAULT_CA_NAME = 'ztproxy Internal CA';
export const DEFAULT_ROOT_TTL_SECONDS = 10 * 365 * 86400; // 10y
export const DEFAULT_INTERMEDIATE_TTL_SECONDS = 5 * 365 * 86400; // 5y

export interface InitCAOptions {
  /** Store directory; `$ZTPROXY_CA_DIR` when omitted. Created when missing. */
  dir?: string;
  /** Subject CN; default {@link DEFAULT_CA_NAME}. */
  name?: string;
  /** Default `ec-p256`. */
  keyType?: KeyType | string;
  /** Default 10 years. */
  ttlSeconds?: number;
  /** Encrypts ca.key (PKCS#8, aes-256-cbc) when non-empty. */
  passphrase?: string;
  /** Name constraints: permitted DNS subtrees (`.internal`) and IP ranges (`10.100.0.0/16`). */
  permitDns?: string[];
  permitIp?: string[];
  /** CRL distribution point URL saved as the store's default for issued certificates (`index.json` `crlUrl`). */
  crlUrl?: string;
}

export interface InitResult {
  dir: string;
  certPath: string;
  keyPath: string;
  crlPath: string;
  certPem: string;
  serial: string;
}

async function refuseExisting(dir: string): Promise<void> {
  for (const f of [CA_CERT_FILE, CA_KEY_FILE, INDEX_FILE]) {
    if (await exists(join(dir, f))) throw new ZtpError('ZTP_CA_EXISTS', `${join(dir, f)} exists: refusing to overwrite a CA store`);
  }
}

/**
 * Writes the files of a new store, every file atomically, the key first
 * (0600), then an empty index and a signed empty CRL. On any failure the
 * files already written are removed, so a failed init leaves no half store.
 */
async function createStore(dir: string, keyPem: string, certPem: string, chainPem: string, serialHex: string, passphrase: string | undefined, crlUrl?: string): Promise<InitResult> {
  const idx: StoreIndex = { version: 1, crlNumber: 0, ...(crlUrl === undefined ? {} : { crlUrl }), entries: [] };
  try {
    await writeFileAtomic(join(dir, CA_KEY_FILE), keyPem, 0o600);
    await writeFileAtomic(join(dir, CA_CERT_FILE), certPem, 0o644);
    await writeFileAtomic(join(dir, CA_CHAIN_FILE), chainPem, 0o644);
    const ca = await loadCA(dir, passphrase);
    await signCrlInto(ca, idx);
    await writeIndex(dir, idx);
  } catch (err) {
    await Promise.all([CA_KEY_FILE, CA_CERT_FILE, CA_CHAIN_FILE, CRL_FILE, INDEX_FILE].map((f) => unlink(join(dir, f)).catch(() => {})));
    throw err;
  }
  return { dir, certPath: join(dir, CA_CERT_FILE), keyPath: join(dir, CA_KEY_FILE), crlPath: join(dir, CRL_FILE), certPem, serial: serialHex.toLowerCase() };
}

/**
 * Creates a root CA store in `dir`: ca.crt, chain.crt, ca.key (0600), an
 * empty index.json and an empty signed crl.pem. Throws `ZTP_CA_EXISTS` when
 * the directory already holds a CA, `ZTP_CA_INVALID_INPUT` on a bad name,
 * key type or constraint; nothing is written in either case.
 */
export async function initCA(opts: InitCAOptions): Promise<InitResult> {
  const dir = resolveDir(opts.dir);
  const name = checkText(opts.name ?? DEFAULT_CA_NAME, 'CA name');
  const keyType = parseKeyType(opts.keyType);
  const validity = validityFor(undefined, opts.ttlSeconds ?? DEFAULT_ROOT_TTL_SECONDS);
  const crlUrl = opts.crlUrl === undefined ? undefined : checkCrlUrl(opts.crlUrl);
  const constraints = opts.permitDns?.length || opts.permitIp?.length ? nameConstraintsExtension(opts.permitDns ?? [], opts.permitIp ?? []) : undefined;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return withDirLock(dir, async () => {
    await refuseExisting(dir);
    const keys = generateKeyPair(keyType);
    const spki = spkiDer(keys.publicKey);
    const subject: x509.JsonName = [{ CN: [name] }];
    const cert = await signCertificate({
      issuer: { name: new x509.Name(subject), signer: await toSigner(keys.privateKey) },
      spki,
      subject,
      serial: newSerial(new Set()),
      validity,
      extensions: await caExtensions(spki, undefined, undefined, constraints),
    });
    const certPem = cert.toString('pem') + '\n';
    return createStore(dir, privateKeyPem(keys.privateKey, opts.passphrase), certPem, certPem, cert.serialNumber, opts.passphrase, crlUrl);
  });
}

export interface InitIntermediateOptions extends Omit<InitCAOptions, 'permitDns' | 'permitIp'> {
  /** The store of the issuing CA. */
  parentDir: string;
  /** Passphrase of the parent's key, when encrypted. */
  parentPassphrase?: string;
}

/**
 * Creates an intermediate CA store in `dir`, signed by the store in
 * `parentDir` (pathLen 0: it issues leaves only) and recorded in the parent's
 * index. `dir/ca.crt` is the intermediate; `dir/chain.crt` is intermediate +
 * parent chain; leaves issued from `dir` carry the intermediate.
 * Default TTL 5 years; past the parent's notAfter: `ZTP_CA_TTL`.
 */
export async function initIntermediateCA(opts: InitIntermediateOptions): Promise<InitResult> {
  const dir = resolveDir(opts.dir);
  const name = checkText(opts.name ?? `${DEFAULT_CA_NAME} Intermediate`, 'CA name');
  const keyType = parseKeyType(opts.keyType);
  const parent = await loadCA(opts.parentDir, opts.parentPassphrase);
  const validity = validityFor(parent, opts.ttlSeconds ?? DEFAULT_INTERMEDIATE_TTL_SECONDS);
  if (await exists(join(dir, CA_KEY_FILE))) throw new ZtpError('ZTP_CA_EXISTS', `${join(dir, CA_KEY_FILE)} exists: refusing to overwrite a CA store`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return withDirLock(dir, async () => {
    await refuseExisting(dir);
    const keys = generateKeyPair(keyType);
    const spki = spkiDer(keys.publicKey);
    const subject: x509.JsonName = [{ CN: [name] }];
    const cert = await withDirLock(parent.dir, async () => {
      const pidx = await readIndex(parent.dir);
      const serial = newSerial(new Set(pidx.entries.map((e) => e.serial)));
      const c = await signCertificate({
        issuer: { name: parent.cert.subjectName, signer: parent.signer },
        spki,
        subject,
        serial,
        validity,
        // The parent's CRL is where this intermediate would be revoked.
        extensions: [...(await caExtensions(spki, parent.cert, 0)), ...(pidx.crlUrl ? [crlDistributionPointExtension(pidx.crlUrl)] : [])],
      });
      pidx.entries.push({ serial: c.serialNumber.toLowerCase(), subject: formatSubject(new Uint8Array(c.subjectName.toArrayBuffer())), cn: name, profile: 'intermediate', notBefore: c.notBefore.toISOString(), notAfter: c.notAfter.toISOString(), certPath: join(dir, CA_CERT_FILE) });
      await writeIndex(parent.dir, pidx);
      return c;
    });
    const certPem = cert.toString('pem') + '\n';
    const parentChain = [parent.certPem, ...(await readParentChain(parent.dir))];
    const chainPem = [certPem, ...dedupe(parentChain)].join('');
    return createStore(dir, privateKeyPem(keys.privateKey, opts.passphrase), certPem, chainPem, cert.serialNumber, opts.passphrase);
  });
}

async function readParentChain(parentDir: string): Promise<string[]> {
  const text = await readFile(join(parentDir, CA_CHAIN_FILE), 'utf8').catch(() => '');
  return text ? splitPem(text) : [];
}

function dedupe(pems: string[]): string[] {
  const seen = new Set<string>();
  return pems.filter((p) => {
    const k = p.replace(/\s+/g, '');
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
