import { createHash, createPublicKey, type KeyObject, type JsonWebKey } from 'node:crypto';
import { ZtpError } from '../util/index.js';
import { WireReader } from './wire-reader.js';
import { WireWriter } from './wire-writer.js';

/** Plain (non-certificate) public key types a certificate may be issued for. */
export const SUBJECT_KEY_TYPES = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'ssh-rsa'] as const;
export type SshKeyType = (typeof SUBJECT_KEY_TYPES)[number];

/** RSA moduli below this are refused: OpenSSH warns on them and 1024-bit RSA is breakable. */
export const MIN_RSA_BITS = 2048;

const CURVES: Record<string, { curve: string; jwk: string; coord: number; hash: string }> = {
  'ecdsa-sha2-nistp256': { curve: 'nistp256', jwk: 'P-256', coord: 32, hash: 'sha256' },
  'ecdsa-sha2-nistp384': { curve: 'nistp384', jwk: 'P-384', coord: 48, hash: 'sha384' },
  'ecdsa-sha2-nistp521': { curve: 'nistp521', jwk: 'P-521', coord: 66, hash: 'sha512' },
};

/** A parsed OpenSSH public key. `blob` is the wire encoding (what the base64 field holds). */
export interface SshPublicKey {
  type: SshKeyType;
  blob: Buffer;
  /** The comment after the key, or '' when absent or not printable. */
  comment: string;
  /** `SHA256:<base64>` exactly as `ssh-keygen -l` prints it. */
  fingerprint: string;
}

/** `SHA256:` + unpadded base64 of the SHA-256 of the key blob, as `ssh-keygen -l` prints. */
export function fingerprintSha256(blob: Uint8Array): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

function b64url(b: Uint8Array): string {
  return Buffer.from(b).toString('base64url');
}

function leftPad(b: Buffer, len: number): Buffer {
  return b.length >= len ? b : Buffer.concat([Buffer.alloc(len - b.length), b]);
}

/**
 * Parses one `authorized_keys`-style line (`type base64 [comment]`), as in an
 * `id_ed25519.pub` file, and checks the key itself: the blob's inner type
 * must match, ECDSA points must lie on the curve, RSA moduli must have at
 * least {@link MIN_RSA_BITS} bits. Throws `ZTP_SSHCA_INVALID_KEY` otherwise,
 * including for certificates and key types outside {@link SUBJECT_KEY_TYPES}.
 */
export function parsePublicKey(text: string, source = 'public key'): SshPublicKey {
  if (text.includes('PRIVATE KEY-----')) {
    throw new ZtpError('ZTP_SSHCA_INVALID_KEY', `${source}: is a private key; give the public key (.pub) instead`);
  }
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length !== 1) {
    throw new ZtpError('ZTP_SSHCA_INVALID_KEY', `${source}: expected exactly one public key line, found ${lines.length}`);
  }
  const [type = '', data = '', ...rest] = lines[0]!.split(/[ \t]+/);
  if (type.endsWith('-cert-v01@openssh.com')) {
    throw new ZtpError('ZTP_SSHCA_INVALID_KEY', `${source}: is a certificate (${type}), not a plain public key`);
  }
  if (!(SUBJECT_KEY_TYPES as readonly string[]).includes(type)) {
    throw new ZtpError('ZTP_SSHCA_INVALID_KEY', `${source}: unsupported key type ${JSON.stringify(type.slice(0, 64))}; expected one of ${SUBJECT_KEY_TYPES.join(', ')}`);
  }
  if (data.length === 0 || data.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(data)) {
    throw new ZtpError('ZTP_SSHCA_INVALID_KEY', `${source}: key data is not valid base64`);
  }
  const blob = Buffer.from(data, 'base64');
  publicKeyObjectFromBlob(blob, source, type as SshKeyType);
  const comment = rest.join(' ');
  return {
    type: type as SshKeyType,
    blob,
    comment: /^[\x20-\x7e]*$/.test(comment) ? comment : '',
    fingerprint: fingerprintSha256(blob),
  };
}

/**
 * Decodes a public key blob into a node KeyObject, validating it fully.
 * With `expectedType`, the blob's own type must equal it.
 */
export function publicKeyObjectFromBlob(blob: Uint8Array, source: string, expectedType?: string): KeyObject {
  const r = new WireReader(blob, source);
  const type = r.name();
  if (expectedType !== undefined && type !== expectedType) throw r.fail(`key data says ${type}, line says ${expectedType}`);
  let jwk: JsonWebKey;
  if (type === 'ssh-ed25519') {
    const pk = r.string();
    if (pk.length !== 32) throw r.fail('ed25519 key must be 32 bytes');
    jwk = { kty: 'OKP', crv: 'Ed25519', x: b64url(pk) };
  } else if (CURVES[type]) {
    const c = CURVES[type]!;
    if (r.name() !== c.curve) throw r.fail(`curve name does not match ${type}`);
    const q = r.string();
    if (q.length !== 1 + 2 * c.coord || q[0] !== 0x04) throw r.fail('ECDSA point must be uncompressed and of the curve size');
    jwk = { kty: 'EC', crv: c.jwk, x: b64url(q.subarray(1, 1 + c.coord)), y: b64url(q.subarray(1 + c.coord)) };
  } else if (type === 'ssh-rsa') {
    const e = r.mpint();
    const n = r.mpint();
    const bits = n.length === 0 ? 0 : (n.length - 1) * 8 + n[0]!.toString(2).length;
    if (bits < MIN_RSA_BITS) throw r.fail(`RSA key has ${bits} bits; at least ${MIN_RSA_BITS} required`);
    if (e.length === 0 || (e[e.length - 1]! & 1) === 0) throw r.fail('RSA public exponent must be odd');
    jwk = { kty: 'RSA', n: b64url(n), e: b64url(e) };
  } else {
    throw r.fail(`unsupported key type ${JSON.stringify(type.slice(0, 64))}`);
  }
  r.end();
  try {
    return createPublicKey({ key: jwk, format: 'jwk' });
  } catch (cause) {
    throw new ZtpError('ZTP_SSHCA_INVALID_KEY', `${source}: not a valid ${type} key`, { cause });
  }
}

/** The OpenSSH wire blob of a node public (or private) key: ed25519, ECDSA P-256/384/521 or RSA. */
export function publicKeyBlob(key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' });
  const w = new WireWriter();
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') {
    return w.string('ssh-ed25519').string(Buffer.from(jwk.x!, 'base64url')).toBuffer();
  }
  if (jwk.kty === 'EC') {
    const [type, c] = Object.entries(CURVES).find(([, v]) => v.jwk === jwk.crv) ?? [];
    if (!type || !c) throw new ZtpError('ZTP_SSHCA_INVALID_KEY', `unsupported EC curve ${String(jwk.crv)}`);
    const q = Buffer.concat([Buffer.from([4]), leftPad(Buffer.from(jwk.x!, 'base64url'), c.coord), leftPad(Buffer.from(jwk.y!, 'base64url'), c.coord)]);
    return w.string(type).string(c.curve).string(q).toBuffer();
  }
  if (jwk.kty === 'RSA') {
    return w.string('ssh-rsa').mpint(Buffer.from(jwk.e!, 'base64url')).mpint(Buffer.from(jwk.n!, 'base64url')).toBuffer();
  }
  throw new ZtpError('ZTP_SSHCA_INVALID_KEY', `unsupported key kind ${String(jwk.kty)}`);
}

/** The hash OpenSSH uses with an ECDSA key type (RFC 5656 section 6.2.1). */
export function ecdsaHash(type: string): string | undefined {
  return CURVES[type]?.hash;
}

/** One `authorized_keys` line for a blob: `type base64[ comment]`. */
export function formatPublicKeyLine(blob: Uint8Array, comment = ''): string {
  const type = new WireReader(blob, 'public key').name();
  return `${type} ${Buffer.from(blob).toString('base64')}${comment ? ` ${comment}` : ''}`;
}
