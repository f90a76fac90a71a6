/**
 * The parts of a CRL that the live-connection recheck needs: issuer name,
 * validity, revoked serials, and the signed bytes with their signature.
 * Walks tag-length-value boundaries only (src/tls/der.ts); the signature is
 * checked with node:crypto against the issuer's public key, never here.
 */
import { verify, type X509Certificate } from 'node:crypto';
import { children, decodeOid, decodeTime, readTlv } from './der.js';

/** One parsed CRL (RFC 5280 §5.1). */
export interface ParsedCrl {
  /** DER of the issuer Name, compared byte for byte with a certificate's subject. */
  readonly issuer: Buffer;
  readonly thisUpdateMs: number;
  readonly nextUpdateMs: number | null;
  /** Revoked serials: lower-case hex, no leading zeros. */
  readonly serials: ReadonlySet<string>;
  readonly tbs: Buffer;
  readonly signatureOid: string;
  readonly signature: Buffer;
}

/** Serial as hex without leading zeros, lower case: how CRL entries and certificates are compared. */
export function normalizeSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=[0-9a-f])/, '');
}

/** Parses the DER of one CRL. Throws a plain Error on DER it cannot read. */
export function parseCrl(der: Buffer): ParsedCrl {
  const list = readTlv(der, 0);
  const [tbsT, algT, sigT] = children(der, list);
  if (tbsT === undefined || algT === undefined || sigT === undefined || sigT.tag !== 0x03) throw new Error('DER: not a CRL');
  const f = children(der, tbsT);
  let i = f[0]?.tag === 0x02 ? 1 : 0; // version
  i++; // signature algorithm (inside the signed part)
  const issuer = f[i++];
  const thisUpdate = f[i++];
  if (issuer === undefined || thisUpdate === undefined) throw new Error('DER: truncated CRL');
  let nextUpdateMs: number | null = null;
  if (f[i] !== undefined && (f[i]!.tag === 0x17 || f[i]!.tag === 0x18)) nextUpdateMs = decodeTime(der, f[i++]!);
  const serials = new Set<string>();
  const revoked = f[i];
  if (revoked !== undefined && revoked.tag === 0x30) {
    for (const entry of children(der, revoked)) {
      const serial = children(der, entry)[0];
      if (serial === undefined || serial.tag !== 0x02) throw new Error('DER: bad CRL entry');
      serials.add(normalizeSerial(der.subarray(serial.contentStart, serial.end).toString('hex')));
    }
  }
  const algOid = children(der, algT)[0];
  if (algOid === undefined || algOid.tag !== 0x06) throw new Error('DER: bad CRL signature algorithm');
  return {
    issuer: der.subarray(issuer.start, issuer.end),
    thisUpdateMs: decodeTime(der, thisUpdate),
    nextUpdateMs,
    serials,
    tbs: der.subarray(tbsT.start, tbsT.end),
    signatureOid: decodeOid(der, algOid),
    // BIT STRING: the first content byte counts the unused bits (0 for signatures).
    signature: der.subarray(sigT.contentStart + 1, sigT.end),
  };
}

/** Signature algorithms of RFC 5758, RFC 4055 (PKCS #1 v1.5) and RFC 8410, as node:crypto digest names. */
const DIGEST_OF: Record<string, string | null> = {
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.3.101.112': null, // Ed25519
  '1.3.101.113': null, // Ed448
};

/**
 * Whether `issuer`'s key signed `crl`: true, false, or null when the
 * algorithm is not one of the table above (e.g. RSASSA-PSS with parameters),
 * which the caller treats as unknown rather than as a forgery.
 */
export function crlSignedBy(crl: ParsedCrl, issuer: X509Certificate): boolean | null {
  if (!(crl.signatureOid in DIGEST_OF)) return null;
  try {
    return verify(DIGEST_OF[crl.signatureOid]!, crl.tbs, { key: issuer.publicKey, dsaEncoding: 'der' }, crl.signature);
  } catch {
    return false; // key type does not match the algorithm
  }
}
