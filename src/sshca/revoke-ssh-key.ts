import { readFile } from 'node:fs/promises';
import { ZtpError } from '../util/index.js';
import { withDirLock, writeFileAtomic } from '../util/index.js';
import { CaKey } from './ca-key.js';
import { encodeKrl } from './krl.js';
import { formatPublicKeyLine, parsePublicKey, type SshPublicKey } from './public-key.js';
import { assertStore, readIndex, storePaths, writeIndex, type SshCaIndex } from './store.js';

export interface RevokeSshKeyOptions {
  dir: string;
  /** Revoke this public key (and so every certificate for it, issued or future). */
  keyPath?: string;
  /** Revoke the certificate with this serial. */
  serial?: number;
}

export interface RevokeSshKeyResult {
  /** Serials in the index now marked revoked by this call. */
  revokedSerials: number[];
  /** Fingerprint of the revoked key, with `keyPath`. */
  revokedKey?: string;
  /** Version written into revoked_keys. */
  krlVersion: number;
}

async function readKey(path: string): Promise<SshPublicKey> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new ZtpError('ZTP_SSHCA_INVALID_INPUT', `cannot read public key ${path}`, { cause });
  }
  return parsePublicKey(text, path);
}

/** Renders the KRL for the whole index state. */
export function krlFor(index: SshCaIndex, ca: CaKey): Buffer {
  return encodeKrl({
    version: index.krlVersion,
    generatedAt: Math.floor(Date.now() / 1000),
    comment: 'ztproxy ssh-ca',
    caKeyBlob: ca.publicBlob,
    serials: index.certificates.filter((c) => c.revoked).map((c) => c.serial),
    keys: index.revokedKeys.map((k) => Buffer.from(k.publicKey.split(' ')[1] ?? '', 'base64')),
  });
}

/**
 * Revokes a key (`keyPath`) or a certificate (`serial`) and rewrites
 * `revoked_keys`: a KRL (PROTOCOL.krl) with the revoked serials under the CA
 * key and the revoked keys in an explicit-key section, which sshd's
 * RevokedKeys and `ssh-keygen -Q` read. Exactly one of the two must be given
 * (`ZTP_SSHCA_INVALID_INPUT`); an unknown serial is `ZTP_SSHCA_NO_SUCH_CERT`.
 * Revoking twice is harmless. The KRL is written before the index, so a
 * crash between the two can only leave more revoked than recorded, never less.
 */
export async function revokeSshKey(opts: RevokeSshKeyOptions): Promise<RevokeSshKeyResult> {
  const hasKey = opts.keyPath !== undefined;
  const hasSerial = opts.serial !== undefined;
  if (hasKey === hasSerial) throw new ZtpError('ZTP_SSHCA_INVALID_INPUT', 'revoke: give exactly one of a key or a serial');
  if (hasSerial && (!Number.isSafeInteger(opts.serial) || (opts.serial as number) < 1)) {
    throw new ZtpError('ZTP_SSHCA_INVALID_INPUT', `serial: expected a positive integer, got ${String(opts.serial)}`);
  }
  const key = opts.keyPath !== undefined ? await readKey(opts.keyPath) : undefined;
  await assertStore(opts.dir);
  return withDirLock(opts.dir, async () => {
    const index = await readIndex(opts.dir);
    const paths = storePaths(opts.dir);
    const ca = CaKey.fromOpenssh(await readFile(paths.privateKey, 'utf8'), paths.privateKey);
    const now = new Date().toISOString();
    const matches = key
      ? index.certificates.filter((c) => c.fingerprint === key.fingerprint)
      : index.certificates.filter((c) => c.serial === opts.serial);
    if (!key && matches.length === 0) throw new ZtpError('ZTP_SSHCA_NO_SUCH_CERT', `no certificate with serial ${String(opts.serial)} in ${opts.dir}`);
    const revokedSerials: number[] = [];
    for (const c of matches) {
      if (c.revoked) continue;
      c.revoked = true;
      c.revokedAt = now;
      revokedSerials.push(c.serial);
    }
    if (key && !index.revokedKeys.some((k) => k.fingerprint === key.fingerprint)) {
      index.revokedKeys.push({ publicKey: formatPublicKeyLine(key.blob), fingerprint: key.fingerprint, revokedAt: now });
    }
    index.krlVersion += 1;
    await writeFileAtomic(paths.revokedKeys, krlFor(index, ca), 0o644);
    await writeIndex(opts.dir, index);
    return { revokedSerials, ...(key ? { revokedKey: key.fingerprint } : {}), krlVersion: index.krlVersion };
  });
}
