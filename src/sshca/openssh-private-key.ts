import { createPrivateKey, randomBytes, type KeyObject, type JsonWebKey } from 'node:crypto';
import { ZtpError } from '../util/index.js';
import { WireReader } from './wire-reader.js';
import { WireWriter } from './wire-writer.js';
import { publicKeyBlob } from './public-key.js';

// PROTOCOL.key in the OpenSSH sources: "openssh-key-v1\0", cipher, kdf, kdf
// options, key count, public keys, then the (here unencrypted) private section.
const MAGIC = Buffer.from('openssh-key-v1\0', 'latin1');
const BEGIN = '-----BEGIN OPENSSH PRIVATE KEY-----';
const END = '-----END OPENSSH PRIVATE KEY-----';
const JWK_BY_CURVE: Record<string, string> = { nistp256: 'P-256', nistp384: 'P-384', nistp521: 'P-521' };

const buf = (s: string | undefined): Buffer => Buffer.from(s ?? '', 'base64url');
const b64url = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
const toBig = (b: Uint8Array): bigint => (b.length === 0 ? 0n : BigInt(`0x${Buffer.from(b).toString('hex')}`));
function fromBig(n: bigint): Buffer {
  const hex = n.toString(16);
  return Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
}

/**
 * Encodes a private key (ed25519, ECDSA P-256/384/521 or RSA) in the
 * unencrypted openssh-key-v1 format that `ssh-keygen` writes and reads
 * (`-----BEGIN OPENSSH PRIVATE KEY-----`, base64 wrapped at 70 columns).
 */
export function encodeOpensshPrivateKey(key: KeyObject, comment: string): string {
  const jwk = key.export({ format: 'jwk' });
  const pub = publicKeyBlob(key);
  const check = randomBytes(4).readUInt32BE(0);
  const priv = new WireWriter().uint32(check).uint32(check);
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') {
    const pk = buf(jwk.x);
    priv.string('ssh-ed25519').string(pk).string(Buffer.concat([buf(jwk.d), pk]));
  } else if (jwk.kty === 'EC') {
    const r = new WireReader(pub, 'public key');
    const type = r.name();
    const curve = r.name();
    priv.string(type).string(curve).string(r.string()).mpint(buf(jwk.d));
  } else if (jwk.kty === 'RSA') {
    priv.string('ssh-rsa').mpint(buf(jwk.n)).mpint(buf(jwk.e)).mpint(buf(jwk.d)).mpint(buf(jwk.qi)).mpint(buf(jwk.p)).mpint(buf(jwk.q));
  } else {
    throw new ZtpError('ZTP_SSHCA_INVALID_KEY', `unsupported private key kind ${String(jwk.kty)}`);
  }
  priv.string(comment);
  let section = priv.toBuffer();
  // Cipher "none" has block size 8; padding bytes are 1, 2, 3, ... (sshkey.c checks them).
  const pad = (8 - (section.length % 8)) % 8;
  section = Buffer.concat([section, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const body = new WireWriter().raw(MAGIC).string('none').string('none').string('').uint32(1).string(pub).string(section).toBuffer();
  const b64 = body.toString('base64').replace(/(.{70})/g, '$1\n').replace(/\n$/, '');
  return `${BEGIN}\n${b64}\n${END}\n`;
}

/**
 * Decodes an unencrypted openssh-key-v1 private key into a node KeyObject.
 * Throws `ZTP_SSHCA_INVALID_KEY` naming `source` when the file is not such
 * a key, is encrypted, holds more than one key, or is internally inconsistent.
 */
export function decodeOpensshPrivateKey(text: string, source: string): KeyObject {
  const m = new RegExp(`${BEGIN}\\s*([A-Za-z0-9+/=\\s]+?)\\s*${END}`).exec(text);
  if (!m) throw new ZtpError('ZTP_SSHCA_INVALID_KEY', `${source}: not an OpenSSH private key`);
  const r = new WireReader(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'), source);
  if (!r.raw(MAGIC.length).equals(MAGIC)) throw r.fail('bad openssh-key-v1 magic');
  const cipher = r.name();
  const kdf = r.name();
  r.string();
  if (cipher !== 'none' || kdf !== 'none') throw r.fail(`encrypted keys (${cipher}/${kdf}) are not supported; store the CA key unencrypted with 0600`);
  if (r.uint32() !== 1) throw r.fail('expected exactly one key');
  const pub = r.string();
  const p = new WireReader(r.string(), source);
  r.end();
  if (p.uint32() !== p.uint32()) throw p.fail('check bytes differ (corrupt key)');
  const type = p.name();
  let jwk: JsonWebKey;
  if (type === 'ssh-ed25519') {
    const pk = p.string();
    const sk = p.string();
    if (pk.length !== 32 || sk.length !== 64 || !sk.subarray(32).equals(pk)) throw p.fail('bad ed25519 key');
    jwk = { kty: 'OKP', crv: 'Ed25519', x: b64url(pk), d: b64url(sk.subarray(0, 32)) };
  } else if (type.startsWith('ecdsa-sha2-')) {
    const crv = JWK_BY_CURVE[p.name()];
    const q = p.string();
    const d = p.mpint();
    if (!crv || q[0] !== 4 || q.length % 2 !== 1) throw p.fail('bad ECDSA key');
    const half = (q.length - 1) / 2;
    const dd = d.length < half ? Buffer.concat([Buffer.alloc(half - d.length), d]) : d;
    jwk = { kty: 'EC', crv, x: b64url(q.subarray(1, 1 + half)), y: b64url(q.subarray(1 + half)), d: b64url(dd) };
  } else if (type === 'ssh-rsa') {
    const [n, e, d, iqmp, pp, qq] = [p.mpint(), p.mpint(), p.mpint(), p.mpint(), p.mpint(), p.mpint()];
    const D = toBig(d);
    jwk = {
      kty: 'RSA', n: b64url(n), e: b64url(e), d: b64url(d), p: b64url(pp), q: b64url(qq), qi: b64url(iqmp),
      dp: b64url(fromBig(D % (toBig(pp) - 1n))), dq: b64url(fromBig(D % (toBig(qq) - 1n))),
    };
  } else {
    throw p.fail(`unsupported key type ${type}`);
  }
  p.string(); // comment
  const padding = p.raw(p.remaining);
  if (padding.length >= 8 || padding.some((b, i) => b !== i + 1)) throw p.fail('bad padding');
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: jwk, format: 'jwk' });
  } catch (cause) {
    throw new ZtpError('ZTP_SSHCA_INVALID_KEY', `${source}: not a valid ${type} key`, { cause });
  }
  if (!publicKeyBlob(key).equals(pub)) throw new ZtpError('ZTP_SSHCA_INVALID_KEY', `${source}: public and private halves do not match`);
  return key;
}
