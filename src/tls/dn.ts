/**
 * Distinguished names printed exactly as OpenSSL's
 * `X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253)` prints them, which is
 * what nginx puts in `$ssl_client_s_dn` / `$ssl_client_i_dn` and what
 * `openssl x509 -nameopt RFC2253` shows. Upstreams written for nginx compare
 * these strings byte for byte, so this follows OpenSSL's a_strex.c, quirks
 * included:
 *
 * - RDNs in reverse order, `,` between RDNs and `+` inside a multi-valued
 *   RDN (its members reversed too, as OpenSSL walks the flat entry list).
 * - Attribute types by OpenSSL's short name (`CN`, `emailAddress`, `GN`),
 *   unknown OIDs in dotted form with the value dumped as `#` + DER hex.
 * - `, + " \ < > ;` backslash-escaped; `#` only at the start and space at
 *   the start or end, except that a one-character value counts as "last"
 *   only (so a lone `#` stays unescaped, as OpenSSL prints it); `=` is not
 *   escaped.
 * - Control bytes and every byte above 0x7F (UTF-8 of non-ASCII) as `\XX`.
 *   String types are converted to UTF-8 first (BMPString, UniversalString,
 *   T61String and PrintableString as Latin-1), then escaped byte by byte.
 * - Values of non-string types (BIT STRING, SEQUENCE, REAL, …) as `#`
 *   + DER hex, a BIT STRING with its unused bits cleared as OpenSSL
 *   re-encodes it.
 * - BER constructed strings (not DER, yet signed by CAs that copy subjects
 *   verbatim) are concatenated first, as OpenSSL's decoder does, so
 *   `2C 0A 0C 03 42 6A C3 0C 03 B8 72 6E` prints `Bj\C3\B8rn`.
 *
 * The result is printable ASCII (0x20–0x7E), so a DN can never split or
 * inject a header whatever the certificate holds.
 */
import { attributeValue, children, decodeOid, readTlv, type Tlv } from './der.js';
import { OID_SHORT_NAMES } from './oid-short-names.js';
import { ZtpError } from '../util/index.js';

// Character classes of OpenSSL's charmap.h, reduced to what XN_FLAG_RFC2253 uses.
const ALWAYS = 1; // , + " \ < > ;
const FIRST = 2; // # (first position only)
const EDGE = 4; // space (first or last position)
const CTRL = 8; // 0x00-0x1F, 0x7F
const CLASS = new Uint8Array(256);
for (const c of ',+"\\<>;') CLASS[c.charCodeAt(0)] = ALWAYS;
CLASS[0x23] = FIRST;
CLASS[0x20] = FIRST | EDGE;
for (let i = 0; i < 0x20; i++) CLASS[i] = CTRL;
CLASS[0x7f] = CTRL;

const HEX = '0123456789ABCDEF';

/** Bytes per character of each universal string tag, as OpenSSL's tag2nbyte (0 = UTF-8 passthrough). */
const CHAR_WIDTH: Record<number, number> = {
  0x0c: 0, // UTF8String
  0x12: 1, // NumericString
  0x13: 1, // PrintableString
  0x14: 1, // T61String (read as Latin-1)
  0x16: 1, // IA5String
  0x17: 1, // UTCTime
  0x18: 1, // GeneralizedTime
  0x1a: 1, // VisibleString
  0x1c: 4, // UniversalString
  0x1e: 2, // BMPString
};

/**
 * Formats the DER of an X.501 Name (the whole SEQUENCE, tag included).
 * Throws ZtpError `ZTP_TLS_DER` (the DER reader's error as `cause`) when the
 * DER does not parse; never anything else (test/fuzz/dn-printer.test.ts).
 */
export function formatDN(nameDer: Uint8Array): string {
  try {
    return formatName(nameDer, readTlv(nameDer, 0));
  } catch (cause) {
    throw new ZtpError('ZTP_TLS_DER', 'distinguished name: malformed DER', { cause });
  }
}

/** Formats the Name at `name` inside `buf` (used on a certificate without copying). */
export function formatName(buf: Uint8Array, name: Tlv): string {
  const entries: { set: number; type: Tlv; value: Tlv }[] = [];
  let set = 0;
  for (const rdn of children(buf, name)) {
    for (const atv of children(buf, rdn)) {
      const [type, value] = children(buf, atv);
      if (!type || !value) throw new Error('DER: bad AttributeTypeAndValue');
      entries.push({ set, type, value });
    }
    set++;
  }
  let out = '';
  let prev = -1;
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i]!;
    if (prev !== -1) out += prev === e.set ? '+' : ',';
    prev = e.set;
    const oid = decodeOid(buf, e.type);
    const sn = OID_SHORT_NAMES.get(oid);
    out += (sn ?? oid) + '=';
    out += sn === undefined ? dumpValue(buf, e.value) : formatValue(buf, e.value);
  }
  return out;
}

/**
 * `#` + DER hex of a value as OpenSSL's do_dump() prints it: re-encoded from
 * the decoded ASN1_STRING, so a collected BER string comes out primitive and
 * a BIT STRING normalised; any other value is its original bytes.
 */
function dumpValue(buf: Uint8Array, t: Tlv): string {
  const { tag, bytes, collected } = attributeValue(buf, t);
  if (tag === 0x03 && bytes.length > 0 && bytes[0]! < 8) return hexPrimitive(tag, bitString(bytes));
  return collected ? hexPrimitive(tag, bytes) : hexDump(buf, t);
}

function hexDump(buf: Uint8Array, t: Tlv): string {
  return hexBytes('#', buf, t.start, t.end);
}

function hexBytes(s: string, buf: Uint8Array, start: number, end: number): string {
  for (let p = start; p < end; p++) s += HEX[buf[p]! >> 4]! + HEX[buf[p]! & 15]!;
  return s;
}

/** `#` + DER of a primitive value OpenSSL re-encodes from its decoded form (a collected BER string). */
function hexPrimitive(tag: number, bytes: Uint8Array): string {
  const n = bytes.length;
  const len: number[] = [];
  if (n < 0x80) len.push(n);
  else {
    for (let v = n; v > 0; v = Math.floor(v / 256)) len.unshift(v & 0xff);
    len.unshift(0x80 | len.length);
  }
  return hexBytes('#', Uint8Array.from([tag, ...len]), 0, len.length + 1) + hexBytes('', bytes, 0, n);
}

/**
 * A BIT STRING as OpenSSL re-encodes it for the dump (c2i/i2c_ASN1_BIT_STRING):
 * the unused bits of the last byte cleared, and no unused-bit count when
 * there are no data bytes (`03 01 05` prints `#030100`).
 */
function bitString(bytes: Uint8Array): Uint8Array {
  if (bytes.length === 1) return Uint8Array.of(0);
  const out = Uint8Array.from(bytes);
  out[out.length - 1]! &= 0xff << out[0]!;
  return out;
}

function formatValue(buf: Uint8Array, t: Tlv): string {
  const { tag, bytes } = attributeValue(buf, t);
  const width = CHAR_WIDTH[tag];
  if (width === undefined) return dumpValue(buf, t);
  const start = 0;
  const end = bytes.length;
  if (width === 0) {
    // UTF8String: OpenSSL skips the conversion and escapes the bytes as they are.
    let s = '';
    for (let p = start; p < end; p++) s += escapeByte(bytes[p]!, p === start, p === end - 1);
    return s;
  }
  if ((end - start) % width !== 0) return dumpValue(buf, t);
  let s = '';
  for (let p = start; p < end; p += width) {
    let c = 0;
    for (let k = 0; k < width; k++) c = c * 256 + bytes[p + k]!;
    const first = p === start;
    const last = p + width === end;
    if (c < 0x80) s += escapeByte(c, first, last);
    else for (const b of Buffer.from(String.fromCodePoint(Math.min(c, 0x10ffff)), 'utf8')) s += escapeByte(b, false, false);
  }
  return s;
}

function escapeByte(c: number, first: boolean, last: boolean): string {
  if (c > 0x7f) return '\\' + HEX[c >> 4]! + HEX[c & 15]!;
  const cls = CLASS[c]!;
  // OpenSSL sets "first" then overwrites it with "last" on the final character.
  const edge = last ? cls & EDGE : first ? cls & (FIRST | EDGE) : 0;
  if (cls & ALWAYS || edge) return '\\' + String.fromCharCode(c);
  if (cls & CTRL) return '\\' + HEX[c >> 4]! + HEX[c & 15]!;
  return String.fromCharCode(c);
}
