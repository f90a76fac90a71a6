import { mkdir, access } from 'node:fs/promises';
import { ZtpError } from '../util/index.js';
import { withDirLock, writeFileAtomic } from '../util/index.js';
import { CA_KEY_TYPES, CaKey, type CaKeyType } from './ca-key.js';
import { encodeKrl } from './krl.js';
import { fingerprintSha256 } from './public-key.js';
import { storePaths, writeIndex, type SshCaIndex } from './store.js';

export interface InitSshCAOptions {
  /** The CA directory; created (0700) when missing. */
  dir: string;
  /** Default `ed25519`. */
  keyType?: CaKeyType;
  /** Comment in user_ca and user_ca.pub. Default `ztproxy-ssh-user-ca`. */
  comment?: string;
}

export interface InitSshCAResult {
  dir: string;
  keyType: CaKeyType;
  /** The user_ca.pub line, without the trailing newline. */
  publicKey: string;
  fingerprint: string;
  paths: ReturnType<typeof storePaths>;
}

/**
 * Creates an SSH CA in `dir`: `user_ca` (openssh-key-v1, unencrypted, 0600),
 * `user_ca.pub` (for sshd's TrustedUserCAKeys), `revoked_keys` (an empty KRL
 * for RevokedKeys) and `index.json` (issued certificates, next serial).
 * Refuses with `ZTP_SSHCA_EXISTS` when any of these files already exists;
 * an unknown key type is `ZTP_SSHCA_INVALID_INPUT`.
 */
export async function initSshCA(opts: InitSshCAOptions): Promise<InitSshCAResult> {
  const keyType = opts.keyType ?? 'ed25519';
  if (!(CA_KEY_TYPES as readonly string[]).includes(keyType)) {
    throw new ZtpError('ZTP_SSHCA_INVALID_INPUT', `key type: expected one of ${CA_KEY_TYPES.join(', ')}, got ${JSON.stringify(keyType)}`);
  }
  const comment = opts.comment ?? 'ztproxy-ssh-user-ca';
  if (!/^[\x20-\x7e]*$/.test(comment)) throw new ZtpError('ZTP_SSHCA_INVALID_INPUT', 'comment: printable ASCII only');
  const { dir } = opts;
  const paths = storePaths(dir);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (cause) {
    throw new ZtpError('ZTP_SSHCA_STORE', `creating ${dir}`, { cause });
  }
  return withDirLock(dir, async () => {
    for (const f of Object.values(paths)) {
      const exists = await access(f).then(() => true, () => false);
      if (exists) throw new ZtpError('ZTP_SSHCA_EXISTS', `${f} already exists; refusing to overwrite an SSH CA`);
    }
    const ca = CaKey.generate(keyType);
    const now = new Date();
    const index: SshCaIndex = { version: 1, keyType, createdAt: now.toISOString(), nextSerial: 1, krlVersion: 1, certificates: [], revokedKeys: [] };
    const krl = encodeKrl({ version: 1, generatedAt: Math.floor(now.getTime() / 1000), comment: 'ztproxy ssh-ca', caKeyBlob: ca.publicBlob, serials: [], keys: [] });
    await writeFileAtomic(paths.privateKey, ca.toOpenssh(comment), 0o600);
    await writeFileAtomic(paths.publicKey, ca.publicLine(comment), 0o644);
    await writeFileAtomic(paths.revokedKeys, krl, 0o644);
    // The index goes last: its presence marks the store as complete.
    await writeIndex(dir, index);
    return { dir, keyType, publicKey: ca.publicLine(comment).trimEnd(), fingerprint: fingerprintSha256(ca.publicBlob), paths };
  });
}
