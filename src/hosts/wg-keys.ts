/**
 * WireGuard host keys in a keys directory: `<host>.key` (base64 private key,
 * as `wg genkey` prints it, mode 0600) and `<host>.pub` (0644). A key that
 * exists is reused, so re-rendering never rotates keys; a missing one is
 * generated with node:crypto. An operator may also drop in a `wg genkey`
 * output as `<host>.key` to supply a key.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ZtpError } from '../util/index.js';
import { withDirLock, writeFileAtomic } from '../util/index.js';

export interface WgKeyPair {
  privateKey: string;
  publicKey: string;
}

// DER prefix of a PKCS#8 X25519 private key (RFC 8410); the raw 32 bytes follow.
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

const b64urlToB64 = (s: string) => Buffer.from(s, 'base64url').toString('base64');

/** Derives the public key of a base64 X25519 private key; undefined if it is not one. */
export function wgPublicKey(privateKey: string): string | undefined {
  const raw = Buffer.from(privateKey, 'base64');
  if (raw.length !== 32 || raw.toString('base64') !== privateKey) return undefined;
  const key = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
  const jwk = createPublicKey(key).export({ format: 'jwk' });
  return b64urlToB64(jwk.x!);
}

/** A fresh X25519 key pair, both halves base64 of the raw 32 bytes as `wg` uses them. */
export function generateWgKeyPair(): WgKeyPair {
  const { privateKey } = generateKeyPairSync('x25519');
  const jwk = privateKey.export({ format: 'jwk' });
  return { privateKey: b64urlToB64(jwk.d!), publicKey: b64urlToB64(jwk.x!) };
}

async function readKey(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ZtpError('ZTP_HOSTS_READ', `reading WireGuard key ${path}`, { cause: err });
  }
}

/**
 * Returns the key pair of every named host, reading `<name>.key` from
 * `keysDir` and generating (and persisting, 0600) the missing ones. Holds the
 * directory lock while doing so, so two concurrent renders cannot each
 * generate a different key for the same host. Throws `ZTP_HOSTS_INVALID` for
 * a key file that does not hold a base64 X25519 key, `ZTP_HOSTS_READ` when a
 * key cannot be read and `ZTP_HOSTS_WRITE` when a new one cannot be stored.
 */
export async function loadOrCreateWgKeys(keysDir: string, names: readonly string[]): Promise<Map<string, WgKeyPair>> {
  try {
    await mkdir(keysDir, { recursive: true, mode: 0o700 });
  } catch (cause) {
    throw new ZtpError('ZTP_HOSTS_WRITE', `creating keys directory ${keysDir}`, { cause });
  }
  return withDirLock(keysDir, async () => {
    const keys = new Map<string, WgKeyPair>();
    for (const name of names) {
      const path = join(keysDir, `${name}.key`);
      const existing = await readKey(path);
      if (existing !== undefined) {
        const publicKey = wgPublicKey(existing);
        if (!publicKey) throw new ZtpError('ZTP_HOSTS_INVALID', `${path} does not hold a WireGuard private key (base64 of 32 bytes, as \`wg genkey\` prints)`);
        keys.set(name, { privateKey: existing, publicKey });
        continue;
      }
      const pair = generateWgKeyPair();
      try {
        await writeFileAtomic(path, `${pair.privateKey}\n`, 0o600);
        await writeFileAtomic(join(keysDir, `${name}.pub`), `${pair.publicKey}\n`, 0o644);
      } catch (cause) {
        throw new ZtpError('ZTP_HOSTS_WRITE', `storing the WireGuard key of ${name} in ${keysDir}`, { cause });
      }
      keys.set(name, pair);
    }
    return keys;
  });
}
