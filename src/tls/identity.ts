import { createHash } from 'node:crypto';
import { attributeValue, certificateParts, children, decodeOid, decodeTime, type Tlv } from './der.js';
import { formatName } from './dn.js';

/**
 * The verified identity of a TLS peer, computed once per connection from the
 * DER of its certificate (never per request).
 */
export interface PeerIdentity {
  /** Subject DN exactly as nginx's `$ssl_client_s_dn` prints it (OpenSSL RFC 2253 form). */
  readonly subjectDN: string;
  /** Issuer DN in the same form (`$ssl_client_i_dn`). */
  readonly issuerDN: string;
  /** Serial as upper-case hex without DER sign padding (`-` + magnitude when negative), like `$ssl_client_serial`. */
  readonly serial: string;
  /** SHA-1 fingerprint, lower-case hex without colons, like `$ssl_client_fingerprint`. */
  readonly fingerprintSha1: string;
  /** SHA-256 fingerprint, lower-case hex without colons. */
  readonly fingerprintSha256: string;
  /** Subject attribute values by type (first RDN first, as in the certificate). */
  readonly cn: readonly string[];
  readonly ou: readonly string[];
  readonly o: readonly string[];
  /** SAN entries. */
  readonly dns: readonly string[];
  readonly uri: readonly string[];
  readonly email: readonly string[];
  readonly ip: readonly string[];
  /** Not-after of the leaf, epoch milliseconds. */
  readonly notAfterMs: number;
  /** DER of the leaf and of the chain the client sent (leaf first). */
  readonly der: Buffer;
  readonly chainDer: readonly Buffer[];
}

const OID_CN = '2.5.4.3';
const OID_OU = '2.5.4.11';
const OID_O = '2.5.4.10';

/**
 * Extracts the identity of a verified peer from the DER of its certificate
 * (and the DER of the chain it sent, leaf excluded). Throws a plain Error on
 * DER it cannot read; the caller refuses such a connection.
 */
export function identityFromDer(der: Buffer, chainDer: readonly Buffer[] = []): PeerIdentity {
  const parts = certificateParts(der);
  const cn: string[] = [];
  const ou: string[] = [];
  const o: string[] = [];
  for (const rdn of children(der, parts.subject)) {
    for (const atv of children(der, rdn)) {
      const [type, value] = children(der, atv);
      if (!type || !value) continue;
      const oid = decodeOid(der, type);
      if (oid === OID_CN) cn.push(decodeString(der, value));
      else if (oid === OID_OU) ou.push(decodeString(der, value));
      else if (oid === OID_O) o.push(decodeString(der, value));
    }
  }
  const dns: string[] = [];
  const uri: string[] = [];
  const email: string[] = [];
  const ip: string[] = [];
  if (parts.subjectAltName) {
    for (const gn of children(der, parts.subjectAltName)) {
      const bytes = der.subarray(gn.contentStart, gn.end);
      if (gn.tag === 0x82) dns.push(bytes.toString('latin1'));
      else if (gn.tag === 0x86) uri.push(bytes.toString('latin1'));
      else if (gn.tag === 0x81) email.push(bytes.toString('latin1'));
      else if (gn.tag === 0x87) ip.push(formatIp(bytes));
    }
  }
  let sha1: string | undefined;
  let sha256: string | undefined;
  return {
    subjectDN: formatName(der, parts.subject),
    issuerDN: formatName(der, parts.issuer),
    serial: serialHex(der, parts.serial),
    // Hashed on first use: most configs send no fingerprint, and this runs once per handshake.
    get fingerprintSha1() {
      return (sha1 ??= createHash('sha1').update(der).digest('hex'));
    },
    get fingerprintSha256() {
      return (sha256 ??= createHash('sha256').update(der).digest('hex'));
    },
    cn,
    ou,
    o,
    dns,
    uri,
    email,
    ip,
    notAfterMs: decodeTime(der, parts.notAfter),
    der,
    chainDer,
  };
}

/**
 * The serial as OpenSSL's i2a_ASN1_INTEGER prints `$ssl_client_serial`:
 * upper-case hex of the magnitude without DER's sign padding, and `-` before
 * a negative serial (RFC 5280 forbids them, but OpenSSL decodes and verifies
 * such certificates from older CAs): FF7F prints -81.
 */
function serialHex(der: Buffer, t: Tlv): string {
  let bytes: Uint8Array = der.subarray(t.contentStart, t.end);
  let sign = '';
  if (bytes.length > 0 && bytes[0]! & 0x80) {
    // Two's complement: magnitude = ~x + 1.
    const mag = Uint8Array.from(bytes, (b) => ~b & 0xff);
    for (let i = mag.length - 1; i >= 0; i--) {
      mag[i] = (mag[i]! + 1) & 0xff;
      if (mag[i] !== 0) break;
    }
    bytes = mag;
    sign = '-';
  }
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  return sign + Buffer.from(bytes.subarray(start)).toString('hex').toUpperCase();
}

/** The text of a Name attribute, BER constructed strings collected as in formatName, so policy matching sees what the DN shows. */
function decodeString(der: Buffer, t: Tlv): string {
  const { tag, bytes } = attributeValue(der, t);
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  switch (tag) {
    case 0x0c:
      return b.toString('utf8');
    case 0x1e: {
      const swapped = Buffer.from(b);
      swapped.swap16();
      return swapped.toString('utf16le');
    }
    case 0x1c: {
      let out = '';
      for (let i = 0; i + 4 <= b.length; i += 4) out += String.fromCodePoint(Math.min(b.readUInt32BE(i), 0x10ffff));
      return out;
    }
    default:
      return b.toString('latin1');
  }
}

function formatIp(bytes: Buffer): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  if (bytes.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
    // RFC 5952: the longest run of two or more zero groups (the first on a tie) becomes "::".
    let best = -1;
    let bestLen = 1;
    for (let i = 0; i < 8; ) {
      let j = i;
      while (j < 8 && groups[j] === '0') j++;
      if (j - i > bestLen) [best, bestLen] = [i, j - i];
      i = j === i ? i + 1 : j;
    }
    if (best === -1) return groups.join(':');
    return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
  }
  return bytes.toString('hex');
}
