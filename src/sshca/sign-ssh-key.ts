import { readFile, access, constants } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ZtpError } from '../util/index.js';
import { withDirLock, writeFileAtomic } from '../util/index.js';
import { parseDurationSeconds } from '../util/index.js';
import { CaKey } from './ca-key.js';
import { buildCertificate } from './certificate.js';
import { parsePublicKey, type SshPublicKey } from './public-key.js';
import { assertStore, readIndex, storePaths, writeIndex, type SshCertRecord } from './store.js';
import { parsePrincipals, validateIdentity } from './validate.js';

/** Default certificate lifetime: one working day, as in the seed articles (`-V +8h`). */
export const DEFAULT_TTL = '8h';
/** valid_after is set this far back so a client whose clock runs a little behind is not refused. */
export const DEFAULT_BACKDATE_SECONDS = 300;

export interface SignSshKeyOptions {
  dir: string;
  /** The subject public key file (`id_ed25519.pub`). The certificate is written beside it. */
  keyPath: string;
  /** The certificate key id (`ssh-keygen -I`). */
  identity: string;
  /** `['root', 'dev']` or `'root,dev'`; at least one. */
  principals: string[] | string;
  /** Lifetime such as `8h` (see parseDurationSeconds). Default {@link DEFAULT_TTL}. */
  ttl?: string;
  /** A host certificate instead of a user certificate. Default false. */
  host?: boolean;
  /** Start of validity; default now minus `backdateSeconds`. */
  validAfter?: Date;
  /** End of validity; default now plus the TTL. Must be after validAfter. */
  validBefore?: Date;
  /** Default {@link DEFAULT_BACKDATE_SECONDS}. */
  backdateSeconds?: number;
}

export interface SignSshKeyResult extends SshCertRecord {
  /** The `*-cert.pub` line, without the trailing newline. */
  certificate: string;
}

/** `ssh-keygen`'s naming: `id_ed25519.pub` → `id_ed25519-cert.pub`; other names get `-cert.pub` appended. */
export function certificatePathFor(keyPath: string): string {
  return `${keyPath.endsWith('.pub') ? keyPath.slice(0, -4) : keyPath}-cert.pub`;
}

const toSeconds = (d: Date): number => Math.floor(d.getTime() / 1000);

function validity(opts: SignSshKeyOptions): { after: number; before: number } {
  const ttlSeconds = parseDurationSeconds(opts.ttl ?? DEFAULT_TTL, 'ttl');
  const backdate = opts.backdateSeconds ?? DEFAULT_BACKDATE_SECONDS;
  if (!Number.isSafeInteger(backdate) || backdate < 0) throw new ZtpError('ZTP_SSHCA_INVALID_INPUT', 'backdateSeconds: expected a non-negative integer');
  for (const [name, d] of [['validAfter', opts.validAfter], ['validBefore', opts.validBefore]] as const) {
    if (d !== undefined && (!(d instanceof Date) || Number.isNaN(d.getTime()) || d.getTime() < 0)) {
      throw new ZtpError('ZTP_SSHCA_INVALID_INPUT', `${name}: expected a valid date after 1970`);
    }
  }
  const now = toSeconds(new Date());
  const after = opts.validAfter ? toSeconds(opts.validAfter) : now - backdate;
  const before = opts.validBefore ? toSeconds(opts.validBefore) : now + ttlSeconds;
  if (before <= after) throw new ZtpError('ZTP_SSHCA_INVALID_INPUT', 'validity: validBefore must be after validAfter');
  return { after, before };
}

async function readSubject(keyPath: string): Promise<SshPublicKey> {
  let text: string;
  try {
    text = await readFile(keyPath, 'utf8');
  } catch (cause) {
    throw new ZtpError('ZTP_SSHCA_INVALID_INPUT', `cannot read public key ${keyPath}`, { cause });
  }
  return parsePublicKey(text, keyPath);
}

/**
 * Signs the public key at `keyPath` and writes `<key without .pub>-cert.pub`
 * (0644) beside it, as `ssh-keygen -s` does. Every input is checked before
 * anything is written: a bad key is `ZTP_SSHCA_INVALID_KEY`, a bad identity,
 * principals or validity `ZTP_SSHCA_INVALID_INPUT`, a bad TTL `ZTP_DURATION`,
 * a missing store `ZTP_SSHCA_NOT_FOUND`. The serial is taken from the index
 * under the directory lock and recorded before the certificate is written,
 * so concurrent signers never share a serial.
 */
export async function signSshKey(opts: SignSshKeyOptions): Promise<SignSshKeyResult> {
  const keyId = validateIdentity(opts.identity);
  const principals = parsePrincipals(opts.principals);
  const { after, before } = validity(opts);
  const subject = await readSubject(opts.keyPath);
  const certificatePath = certificatePathFor(opts.keyPath);
  try {
    await access(dirname(certificatePath), constants.W_OK);
  } catch (cause) {
    throw new ZtpError('ZTP_SSHCA_INVALID_INPUT', `cannot write the certificate beside ${opts.keyPath}`, { cause });
  }
  await assertStore(opts.dir);
  return withDirLock(opts.dir, async () => {
    const index = await readIndex(opts.dir);
    if (index.revokedKeys.some((k) => k.fingerprint === subject.fingerprint)) {
      throw new ZtpError('ZTP_SSHCA_INVALID_KEY', `${opts.keyPath}: key ${subject.fingerprint} is revoked; generate a new key`);
    }
    const caPath = storePaths(opts.dir).privateKey;
    const ca = CaKey.fromOpenssh(await readFile(caPath, 'utf8'), caPath);
    const serial = index.nextSerial;
    const certType = opts.host ? 'host' : 'user';
    const blob = buildCertificate(ca, { subject, serial, certType, keyId, principals, validAfter: after, validBefore: before });
    const record: SshCertRecord = {
      serial, certType, keyId, principals,
      validAfter: new Date(after * 1000).toISOString(),
      validBefore: new Date(before * 1000).toISOString(),
      keyType: subject.type, fingerprint: subject.fingerprint, certificatePath,
      issuedAt: new Date().toISOString(), revoked: false,
    };
    index.nextSerial = serial + 1;
    index.certificates.push(record);
    // Index first: should the certificate write fail, the serial is burnt, never reused.
    await writeIndex(opts.dir, index);
    const line = `${subject.type}-cert-v01@openssh.com ${blob.toString('base64')}${subject.comment ? ` ${subject.comment}` : ''}`;
    try {
      await writeFileAtomic(certificatePath, `${line}\n`, 0o644);
    } catch (cause) {
      throw new ZtpError('ZTP_SSHCA_STORE', `writing ${certificatePath} (serial ${serial} is recorded as issued)`, { cause });
    }
    return { ...record, certificate: line };
  });
}
