/**
 * Key pairs of the CA store: generation, PEM storage (optionally encrypted
 * PKCS#8), and conversion to the WebCrypto keys @peculiar/x509 signs with.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, webcrypto, type KeyObject } from 'node:crypto';

type Algorithm = webcrypto.Algorithm;
type CryptoKey = webcrypto.CryptoKey;
type EcKeyImportParams = webcrypto.EcKeyImportParams;
type RsaHashedImportParams = webcrypto.RsaHashedImportParams;
import { cryptoProvider } from './x509.js';
import { ZtpError } from '../util/index.js';

// @peculiar/x509 signs through WebCrypto; pin it to node's implementation.
cryptoProvider.set(webcrypto as unknown as Parameters<typeof cryptoProvider.set>[0]);

/** Key types `--key-type` accepts. ECDSA P-256 is the default: cheapest handshakes. */
export const KEY_TYPES = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-4096', 'ed25519'] as const;
export type KeyType = (typeof KEY_TYPES)[number];
export const DEFAULT_KEY_TYPE: KeyType = 'ec-p256';

/** Throws `ZTP_CA_INVALID_INPUT` unless `value` names a supported key type. */
export function parseKeyType(value: string | undefined): KeyType {
  if (value === undefined) return DEFAULT_KEY_TYPE;
  if ((KEY_TYPES as readonly string[]).includes(value)) return value as KeyType;
  throw new ZtpError('ZTP_CA_INVALID_INPUT', `unknown key type ${JSON.stringify(value)}, expected one of ${KEY_TYPES.join(', ')}`);
}

/** A freshly generated key pair. */
export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** Generates a key pair of `type` with node:crypto. */
export function generateKeyPair(type: KeyType): KeyPair {
  switch (type) {
    case 'ec-p256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'ec-p384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' });
    case 'rsa-2048':
      return generateKeyPairSync('rsa', { modulusLength: 2048 });
    case 'rsa-4096':
      return generateKeyPairSync('rsa', { modulusLength: 4096 });
    case 'ed25519':
      return generateKeyPairSync('ed25519');
  }
}

/**
 * PKCS#8 PEM of `key`; encrypted with aes-256-cbc (PBES2) when a non-empty
 * passphrase is given.
 */
export function privateKeyPem(key: KeyObject, passphrase?: string): string {
  if (passphrase) return key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }) as string;
  return key.export({ type: 'pkcs8', format: 'pem' }) as string;
}

/**
 * Parses a PEM private key. A wrong or missing passphrase for an encrypted
 * key throws `ZTP_CA_PASSPHRASE`; anything else unreadable `ZTP_CA_INVALID_INPUT`.
 */
export function loadPrivateKey(pem: string, passphrase: string | undefined, what: string): KeyObject {
  const encrypted = pem.includes('ENCRYPTED');
  try {
    return createPrivateKey(passphrase === undefined ? { key: pem } : { key: pem, passphrase });
  } catch (cause) {
    if (encrypted) {
      const msg = passphrase === undefined ? `${what} is encrypted: pass --passphrase-file` : `wrong passphrase for ${what}`;
      throw new ZtpError('ZTP_CA_PASSPHRASE', msg, { cause });
    }
    throw new ZtpError('ZTP_CA_INVALID_INPUT', `cannot read private key ${what}`, { cause });
  }
}

/** Signing parameters for the key: WebCrypto import algorithm and signature hash. */
export function signingParams(key: KeyObject): { importAlg: EcKeyImportParams | RsaHashedImportParams | Algorithm; signAlg: Algorithm & { hash?: string } } {
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1' || curve === 'P-256') return { importAlg: { name: 'ECDSA', namedCurve: 'P-256' }, signAlg: { name: 'ECDSA', hash: 'SHA-256' } };
    if (curve === 'secp384r1' || curve === 'P-384') return { importAlg: { name: 'ECDSA', namedCurve: 'P-384' }, signAlg: { name: 'ECDSA', hash: 'SHA-384' } };
    throw new ZtpError('ZTP_CA_INVALID_INPUT', `unsupported EC curve ${String(curve)}`);
  }
  if (type === 'rsa') return { importAlg: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, signAlg: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } };
  if (type === 'ed25519') return { importAlg: { name: 'Ed25519' }, signAlg: { name: 'Ed25519' } };
  throw new ZtpError('ZTP_CA_INVALID_INPUT', `unsupported key type ${String(type)}`);
}

/** A signer: the WebCrypto key plus the algorithm x509 generators take. */
export interface Signer {
  key: KeyObject;
  cryptoKey: CryptoKey;
  signingAlgorithm: Algorithm & { hash?: string };
}

/** Imports `key` for signing certificates and CRLs. */
export async function toSigner(key: KeyObject): Promise<Signer> {
  const { importAlg, signAlg } = signingParams(key);
  const der = key.export({ type: 'pkcs8', format: 'der' });
  const cryptoKey = await webcrypto.subtle.importKey('pkcs8', der, importAlg, false, ['sign']);
  return { key, cryptoKey, signingAlgorithm: signAlg };
}

/** SPKI DER of the public half of `key` (private or public). */
export function spkiDer(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'der' });
}
