import { readFile, access } from 'node:fs/promises';
import { join } from 'node:path';
import { ZtpError } from '../util/index.js';
import { writeFileAtomic } from '../util/index.js';
import type { CaKeyType } from './ca-key.js';

/** File names inside an SSH CA directory. */
export const STORE_FILES = {
  privateKey: 'user_ca',
  publicKey: 'user_ca.pub',
  revokedKeys: 'revoked_keys',
  index: 'index.json',
} as const;

/** One issued certificate, as recorded in the index. Times are ISO 8601 UTC. */
export interface SshCertRecord {
  serial: number;
  certType: 'user' | 'host';
  keyId: string;
  principals: string[];
  validAfter: string;
  validBefore: string;
  keyType: string;
  /** The subject key's `SHA256:` fingerprint. */
  fingerprint: string;
  certificatePath: string;
  issuedAt: string;
  revoked: boolean;
  revokedAt?: string;
}

/** A plain public key revoked with `revoke --key`; it revokes every certificate for that key. */
export interface RevokedKeyRecord {
  /** `type base64`, without comment. */
  publicKey: string;
  fingerprint: string;
  revokedAt: string;
}

/** DIR/index.json. `nextSerial` only grows, so a serial is never issued twice. */
export interface SshCaIndex {
  version: 1;
  keyType: CaKeyType;
  createdAt: string;
  nextSerial: number;
  krlVersion: number;
  certificates: SshCertRecord[];
  revokedKeys: RevokedKeyRecord[];
}

/** Absolute-ish paths of the store files under `dir`. */
export function storePaths(dir: string): Record<keyof typeof STORE_FILES, string> {
  return {
    privateKey: join(dir, STORE_FILES.privateKey),
    publicKey: join(dir, STORE_FILES.publicKey),
    revokedKeys: join(dir, STORE_FILES.revokedKeys),
    index: join(dir, STORE_FILES.index),
  };
}

/** Throws `ZTP_SSHCA_NOT_FOUND` unless `dir` holds an initialised SSH CA. */
export async function assertStore(dir: string): Promise<void> {
  const p = storePaths(dir);
  for (const f of [p.index, p.privateKey]) {
    try {
      await access(f);
    } catch {
      throw new ZtpError('ZTP_SSHCA_NOT_FOUND', `no SSH CA in ${dir} (missing ${f}); run "ztproxy ssh-ca init --dir ${dir}"`);
    }
  }
}

/** Reads and checks the index. Throws `ZTP_SSHCA_NOT_FOUND` when absent, `ZTP_SSHCA_STORE` when corrupt. */
export async function readIndex(dir: string): Promise<SshCaIndex> {
  await assertStore(dir);
  const path = storePaths(dir).index;
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (cause) {
    throw new ZtpError('ZTP_SSHCA_STORE', `reading ${path}`, { cause });
  }
  const ix = parsed as Partial<SshCaIndex> | null;
  if (
    !ix || ix.version !== 1 || !Number.isSafeInteger(ix.nextSerial) || (ix.nextSerial as number) < 1 ||
    !Number.isSafeInteger(ix.krlVersion) || !Array.isArray(ix.certificates) || !Array.isArray(ix.revokedKeys)
  ) {
    throw new ZtpError('ZTP_SSHCA_STORE', `${path}: not a ztproxy SSH CA index (version 1)`);
  }
  return ix as SshCaIndex;
}

/** Replaces the index atomically. Callers hold the directory lock. */
export async function writeIndex(dir: string, index: SshCaIndex): Promise<void> {
  await writeFileAtomic(storePaths(dir).index, `${JSON.stringify(index, null, 2)}\n`, 0o600);
}
