/**
 * Issuing leaves: client and server certificates with fresh keys, and
 * certificates for CSRs. Every issuance picks its serial, signs, writes its
 * files and appends to the index while holding the store lock, so concurrent
 * runs never lose an entry or reuse a serial.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as x509 from './x509.js';
import { ZtpError } from '../util/index.js';
import { withDirLock, writeFileAtomic } from '../util/index.js';
import { generateKeyPair, parseKeyType, privateKeyPem, spkiDer, type KeyType } from './keys.js';
import { checkCrlUrl, checkDnsName, checkIp, checkText, crlDistributionPointExtension, leafExtensions, sanExtension, signCertificate, validityFor, type Validity } from './build.js';
import { buildPkcs12, DEFAULT_P12_PASSWORD } from './pkcs12.js';
import { formatSubject, firstCn } from './subject.js';
import { loadCA, newSerial, readIndex, resolveDir, writeIndex, type LoadedCA } from './store.js';
import { certSubjectDer, csrSubjectDer } from './der.js';

/** Default client certificate lifetime: 8 hours (short-lived developer credentials). */
export const DEFAULT_CLIENT_TTL_SECONDS = 8 * 3600;
/** Default server certificate lifetime: 90 days. */
export const DEFAULT_SERVER_TTL_SECONDS = 90 * 86400;

interface CommonIssueOptions {
  /** Store directory; `$ZTPROXY_CA_DIR` when omitted. */
  dir?: string;
  /** Passphrase of ca.key, when encrypted. */
  passphrase?: string;
  ttlSeconds?: number;
  /** Where the files go; default the current directory. */
  outDir?: string;
  /** Overrides of the validity window (tests mint expired or not-yet-valid certificates). */
  notBefore?: Date;
  notAfter?: Date;
  /** Leaf key type; default `ec-p256`. */
  keyType?: KeyType | string;
  /** CRL distribution point URL; default the store's (`ca init --crl-url`), else none. */
  crlUrl?: string;
}

export interface IssueClientOptions extends CommonIssueOptions {
  cn: string;
  ou?: string[];
  o?: string;
  email?: string;
  uri?: string[];
  /** Password of the .p12; default {@link DEFAULT_P12_PASSWORD}. */
  p12Passphrase?: string;
}

export interface IssueServerOptions extends CommonIssueOptions {
  dns: string[];
  ip?: string[];
}

/** What an issuance wrote. `certPem` is leaf + chain. */
export interface IssueResult {
  certPath: string;
  keyPath: string;
  certPem: string;
  keyPem: string;
  /** Lower-case hex. */
  serial: string;
  subject: string;
  notAfter: Date;
}

export interface IssueClientResult extends IssueResult {
  p12Path: string;
  p12Password: string;
}

/** A file name for `name`: anything outside [A-Za-z0-9._@-] becomes `_`, `*` becomes `_wildcard` (mkcert's convention). */
export function fileBaseName(name: string): string {
  const base = name.replace(/\*/g, '_wildcard').replace(/[^A-Za-z0-9._@-]/g, '_');
  return /^\.*$/.test(base) ? `_${base}` : base;
}

interface LeafSpec {
  ca: LoadedCA;
  profile: 'client' | 'server';
  spki: Buffer;
  rsa: boolean;
  subject: x509.JsonName | Uint8Array;
  san: x509.Extension | undefined;
  validity: Validity;
  /** CRL distribution point URL given for this certificate (else the store's default). */
  crlUrl: string | undefined;
  /**
   * Prepares the files outside the lock (the slow part, e.g. the .p12) and
   * returns the function that writes them, which runs under the lock once
   * the serial is known to be unused. Resolves to the certificate path.
   */
  prepare: (cert: x509.X509Certificate, fullPem: string) => Promise<() => Promise<string | undefined>>;
}

/** How long an issuance waits for the store lock (parallel CLI runs on a busy host). */
const LOCK_TIMEOUT_MS = 60_000;

/**
 * Signs one leaf and records it. The serial is drawn at random and the
 * certificate signed outside the lock; under the lock the serial is checked
 * against the index (a collision, odds 2^-127, signs again), the files are
 * written and the entry appended. The lock is held only for file writes.
 */
async function issueLeaf(spec: LeafSpec): Promise<{ cert: x509.X509Certificate; fullPem: string; subject: string }> {
  const { ca } = spec;
  const first = await readIndex(ca.dir);
  const crlUrl = spec.crlUrl ?? first.crlUrl;
  const extensions = [...(await leafExtensions(spec.profile, spec.spki, ca.cert, spec.san, spec.rsa)), ...(crlUrl ? [crlDistributionPointExtension(crlUrl)] : [])];
  let taken = new Set(first.entries.map((e) => e.serial));
  for (;;) {
    const serial = newSerial(taken);
    const cert = await signCertificate({ issuer: { name: ca.cert.subjectName, signer: ca.signer }, spki: spec.spki, subject: spec.subject, serial, validity: spec.validity, extensions });
    const fullPem = [cert.toString('pem') + '\n', ...ca.embedChain].join('');
    const commit = await spec.prepare(cert, fullPem);
    const subjectDer = certSubjectDer(new Uint8Array(cert.rawData));
    const subject = formatSubject(subjectDer);
    const cn = firstCn(subjectDer);
    const done = await withDirLock(
      ca.dir,
      async () => {
        const idx = await readIndex(ca.dir);
        taken = new Set(idx.entries.map((e) => e.serial));
        if (taken.has(serial)) return false;
        const certPath = await commit();
        idx.entries.push({
          serial,
          subject,
          ...(cn === undefined ? {} : { cn }),
          profile: spec.profile,
          notBefore: cert.notBefore.toISOString(),
          notAfter: cert.notAfter.toISOString(),
          ...(certPath === undefined ? {} : { certPath: resolve(certPath) }),
        });
        await writeIndex(ca.dir, idx);
        return true;
      },
      LOCK_TIMEOUT_MS,
    );
    if (done) return { cert, fullPem, subject };
  }
}

/**
 * Issues a client certificate (EKU clientAuth) with a fresh key: writes
 * OUT/CN.crt (leaf + chain, 0644), OUT/CN.key (0600) and OUT/CN.p12. Input is
 * validated before anything is written: `ZTP_CA_INVALID_INPUT` (CN with
 * control characters, bad key type), `ZTP_CA_TTL`, `ZTP_CA_PASSPHRASE`.
 */
export async function issueClient(opts: IssueClientOptions): Promise<IssueClientResult> {
  const dir = resolveDir(opts.dir);
  const cn = checkText(opts.cn, 'CN');
  const ous = (opts.ou ?? []).map((v) => checkText(v, 'OU'));
  const o = opts.o === undefined ? undefined : checkText(opts.o, 'O');
  const email = opts.email === undefined ? undefined : checkText(opts.email, 'email');
  const uris = (opts.uri ?? []).map((u) => {
    checkText(u, 'URI');
    if (!URL.canParse(u)) throw new ZtpError('ZTP_CA_INVALID_INPUT', `not a URI: ${JSON.stringify(u)}`);
    return u;
  });
  const keyType = parseKeyType(opts.keyType);
  const crlUrl = opts.crlUrl === undefined ? undefined : checkCrlUrl(opts.crlUrl);
  const ca = await loadCA(dir, opts.passphrase);
  const validity = validityFor(ca, opts.ttlSeconds ?? DEFAULT_CLIENT_TTL_SECONDS, { ...(opts.notBefore && { notBefore: opts.notBefore }), ...(opts.notAfter && { notAfter: opts.notAfter }) });
  // Most significant first, so the RFC 2253 form reads CN=…,OU=…,O=….
  const subject: x509.JsonName = [...(o === undefined ? [] : [{ O: [o] }]), ...ous.map((ou) => ({ OU: [ou] })), { CN: [cn] }];
  const keys = generateKeyPair(keyType);
  const keyPem = privateKeyPem(keys.privateKey);
  const outDir = opts.outDir ?? '.';
  const base = join(outDir, fileBaseName(cn));
  const paths = { certPath: `${base}.crt`, keyPath: `${base}.key`, p12Path: `${base}.p12` };
  const p12Password = opts.p12Passphrase ?? DEFAULT_P12_PASSWORD;
  await mkdir(outDir, { recursive: true });
  const { cert, fullPem, subject: dn } = await issueLeaf({
    ca,
    profile: 'client',
    spki: spkiDer(keys.publicKey),
    rsa: keyType.startsWith('rsa'),
    subject,
    san: sanExtension({ ...(email && { email: [email] }), uri: uris }),
    validity,
    crlUrl,
    prepare: async (c, pem) => {
      const chainDers = [new Uint8Array(c.rawData), ...ca.embedChain.map((p) => new Uint8Array(new x509.X509Certificate(p).rawData))];
      const p12 = buildPkcs12(keys.privateKey.export({ type: 'pkcs8', format: 'der' }), chainDers, p12Password, cn);
      return async () => {
        await writeFileAtomic(paths.keyPath, keyPem, 0o600);
        await writeFileAtomic(paths.certPath, pem, 0o644);
        await writeFileAtomic(paths.p12Path, p12, 0o600);
        return paths.certPath;
      };
    },
  });
  return { ...paths, certPem: fullPem, keyPem, serial: cert.serialNumber.toLowerCase(), subject: dn, notAfter: cert.notAfter, p12Password };
}

/**
 * Issues a server certificate (EKU serverAuth, DNS and IP SANs, CN = first
 * DNS name) with a fresh key: OUT/NAME.crt (leaf + chain) and OUT/NAME.key
 * (0600), NAME being the first DNS name (`*` written as `_wildcard`).
 */
export async function issueServer(opts: IssueServerOptions): Promise<IssueResult> {
  const dir = resolveDir(opts.dir);
  if (!opts.dns?.length) throw new ZtpError('ZTP_CA_INVALID_INPUT', 'a server certificate needs at least one DNS name');
  const dns = opts.dns.map(checkDnsName);
  const ips = (opts.ip ?? []).map(checkIp);
  const keyType = parseKeyType(opts.keyType);
  const crlUrl = opts.crlUrl === undefined ? undefined : checkCrlUrl(opts.crlUrl);
  const ca = await loadCA(dir, opts.passphrase);
  const validity = validityFor(ca, opts.ttlSeconds ?? DEFAULT_SERVER_TTL_SECONDS, { ...(opts.notBefore && { notBefore: opts.notBefore }), ...(opts.notAfter && { notAfter: opts.notAfter }) });
  const keys = generateKeyPair(keyType);
  const keyPem = privateKeyPem(keys.privateKey);
  const outDir = opts.outDir ?? '.';
  const base = join(outDir, fileBaseName(dns[0]!));
  const paths = { certPath: `${base}.crt`, keyPath: `${base}.key` };
  await mkdir(outDir, { recursive: true });
  const { cert, fullPem, subject } = await issueLeaf({
    ca,
    profile: 'server',
    spki: spkiDer(keys.publicKey),
    rsa: keyType.startsWith('rsa'),
    subject: [{ CN: [dns[0]!] }],
    san: sanExtension({ dns, ip: ips }),
    validity,
    crlUrl,
    prepare: async (_c, pem) => async () => {
      await writeFileAtomic(paths.keyPath, keyPem, 0o600);
      await writeFileAtomic(paths.certPath, pem, 0o644);
      return paths.certPath;
    },
  });
  return { ...paths, certPem: fullPem, keyPem, serial: cert.serialNumber.toLowerCase(), subject, notAfter: cert.notAfter };
}

export interface SignCsrOptions {
  dir?: string;
  passphrase?: string;
  /** The request, PEM or DER. */
  csr: string | Uint8Array;
  profile: 'client' | 'server';
  /** Default by profile: 8h client, 90d server. */
  ttlSeconds?: number;
  /** Where leaf + chain go; not written when omitted. */
  outPath?: string;
  notBefore?: Date;
  notAfter?: Date;
  /** CRL distribution point URL; default the store's (`ca init --crl-url`), else none. */
  crlUrl?: string;
}

export interface SignCsrResult {
  certPem: string;
  certPath?: string;
  serial: string;
  subject: string;
}

/**
 * Signs a PKCS#10 request. The CSR's signature must verify
 * (`ZTP_CA_CSR_INVALID` otherwise). Its subject Name is copied byte for byte
 * (multi-valued RDNs, unknown OIDs, any string type survive as they are), and
 * its subjectAltName, when requested, is copied too; every other requested
 * extension is ignored (a CSR cannot ask for CA:true).
 */
export async function signCsr(opts: SignCsrOptions): Promise<SignCsrResult> {
  const dir = resolveDir(opts.dir);
  if (opts.profile !== 'client' && opts.profile !== 'server') throw new ZtpError('ZTP_CA_INVALID_INPUT', `unknown profile ${JSON.stringify(opts.profile)}, expected client or server`);
  let csr: x509.Pkcs10CertificateRequest;
  let ok = false;
  try {
    csr = new x509.Pkcs10CertificateRequest(typeof opts.csr === 'string' ? opts.csr : new Uint8Array(opts.csr));
    ok = await csr.verify();
  } catch (cause) {
    throw new ZtpError('ZTP_CA_CSR_INVALID', 'cannot parse the certificate request', { cause });
  }
  if (!ok) throw new ZtpError('ZTP_CA_CSR_INVALID', 'the certificate request signature does not verify');
  const crlUrl = opts.crlUrl === undefined ? undefined : checkCrlUrl(opts.crlUrl);
  const ca = await loadCA(dir, opts.passphrase);
  const ttl = opts.ttlSeconds ?? (opts.profile === 'client' ? DEFAULT_CLIENT_TTL_SECONDS : DEFAULT_SERVER_TTL_SECONDS);
  const validity = validityFor(ca, ttl, { ...(opts.notBefore && { notBefore: opts.notBefore }), ...(opts.notAfter && { notAfter: opts.notAfter }) });
  const requestedSan = csr.getExtension('2.5.29.17'); // subjectAltName
  const spki = Buffer.from(csr.publicKey.rawData);
  const rsa = csr.publicKey.algorithm.name.startsWith('RSA');
  if (opts.outPath) await mkdir(resolve(opts.outPath, '..'), { recursive: true });
  const { cert, fullPem, subject } = await issueLeaf({
    ca,
    profile: opts.profile,
    spki,
    rsa,
    subject: csrSubjectDer(new Uint8Array(csr.rawData)),
    san: requestedSan ? new x509.Extension(requestedSan.rawData) : undefined,
    validity,
    crlUrl,
    prepare: async (_c, pem) => async () => {
      if (!opts.outPath) return undefined;
      await writeFileAtomic(opts.outPath, pem, 0o644);
      return opts.outPath;
    },
  });
  return { certPem: fullPem, ...(opts.outPath && { certPath: opts.outPath }), serial: cert.serialNumber.toLowerCase(), subject };
}
