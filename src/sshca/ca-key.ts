import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { ZtpError } from '../util/index.js';
import { WireReader } from './wire-reader.js';
import { WireWriter } from './wire-writer.js';
import { ecdsaHash, formatPublicKeyLine, publicKeyBlob } from './public-key.js';
import { decodeOpensshPrivateKey, encodeOpensshPrivateKey } from './openssh-private-key.js';

/** CA key types `ssh-ca init --key-type` offers. */
export const CA_KEY_TYPES = ['ed25519', 'ecdsa-p256', 'rsa-3072'] as const;
export type CaKeyType = (typeof CA_KEY_TYPES)[number];

/**
 * The SSH CA's signing key. Signatures use the algorithm sshd expects for the
 * key: ssh-ed25519, ecdsa-sha2-nistp* with the curve's hash, and
 * rsa-sha2-512 for RSA (never the SHA-1 `ssh-rsa` signature, which OpenSSH
 * 8.8+ refuses by default).
 */
export class CaKey {
  readonly #key: KeyObject;
  /** The public key in OpenSSH wire format (the certificate's signature key). */
  readonly publicBlob: Buffer;
  /** The SSH key type name, e.g. `ssh-ed25519`. */
  readonly sshType: string;

  private constructor(key: KeyObject) {
    this.#key = key;
    this.publicBlob = publicKeyBlob(key);
    this.sshType = new WireReader(this.publicBlob, 'CA key').name();
  }

  /** Generates a fresh key with node:crypto. Throws `ZTP_SSHCA_INVALID_INPUT` on an unknown type. */
  static generate(type: CaKeyType): CaKey {
    switch (type) {
      case 'ed25519':
        return new CaKey(generateKeyPairSync('ed25519').privateKey);
      case 'ecdsa-p256':
        return new CaKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
      case 'rsa-3072':
        return new CaKey(generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 65537 }).privateKey);
      default:
        throw new ZtpError('ZTP_SSHCA_INVALID_INPUT', `unknown CA key type ${JSON.stringify(type)}; expected one of ${CA_KEY_TYPES.join(', ')}`);
    }
  }

  /** Loads an unencrypted openssh-key-v1 private key (ours, or one `ssh-keygen -N ''` made). */
  static fromOpenssh(text: string, source: string): CaKey {
    return new CaKey(decodeOpensshPrivateKey(text, source));
  }

  /** The private key file content (openssh-key-v1, unencrypted). */
  toOpenssh(comment: string): string {
    return encodeOpensshPrivateKey(this.#key, comment);
  }

  /** The `.pub` line: what sshd's TrustedUserCAKeys names. */
  publicLine(comment: string): string {
    return `${formatPublicKeyLine(this.publicBlob, comment)}\n`;
  }

  /** Signs `data` and returns the SSH signature blob (`string alg, string sig`). */
  sign(data: Uint8Array): Buffer {
    const w = new WireWriter();
    if (this.sshType === 'ssh-ed25519') {
      return w.string('ssh-ed25519').string(sign(null, data, this.#key)).toBuffer();
    }
    if (this.sshType === 'ssh-rsa') {
      return w.string('rsa-sha2-512').string(sign('sha512', data, this.#key)).toBuffer();
    }
    const hash = ecdsaHash(this.sshType);
    if (!hash) throw new ZtpError('ZTP_SSHCA_INVALID_KEY', `cannot sign with ${this.sshType}`);
    // RFC 5656 3.1.2: the signature blob holds r and s as two mpints.
    const rs = sign(hash, data, { key: this.#key, dsaEncoding: 'ieee-p1363' });
    const half = rs.length / 2;
    const inner = new WireWriter().mpint(rs.subarray(0, half)).mpint(rs.subarray(half)).toBuffer();
    return w.string(this.sshType).string(inner).toBuffer();
  }
}
