/**
 * A minimal DER reader for the few structures ztproxy reads from a peer
 * certificate (names, serial, validity, SANs). It only walks tag-length-value
 * boundaries; it verifies nothing (OpenSSL has verified the chain before any
 * of this runs). Malformed input throws a plain Error, which callers wrap.
 */

export interface Tlv {
  /** Full first identifier octet (class, constructed bit, tag number < 31). */
  readonly tag: number;
  /** Offset of the first header byte. */
  readonly start: number;
  /** Offset of the first content byte. */
  readonly contentStart: number;
  /** Offset just past the content. */
  readonly end: number;
}

/** Reads the TLV at `offset` of `buf`, bounded by `limit`. */
export function readTlv(buf: Uint8Array, offset: number, limit = buf.length): Tlv {
  if (offset + 2 > limit) throw new Error('DER: truncated header');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new Error('DER: high tag numbers are not supported');
  let len = buf[offset + 1]!;
  let p = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > limit) throw new Error('DER: bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p++]!;
  }
  const end = p + len;
  if (end > limit) throw new Error('DER: content past end');
  return { tag, start: offset, contentStart: p, end };
}

/** The TLVs directly inside a constructed `parent`. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = parent.contentStart; p < parent.end; ) {
    const t = readTlv(buf, p, parent.end);
    out.push(t);
    p = t.end;
  }
  return out;
}

/** OpenSSL's ASN1_MAX_STRING_NEST: deeper constructed strings are refused. */
const MAX_STRING_NEST = 5;

/**
 * The value of a Name attribute as OpenSSL's decoder stores it: the tag
 * number and the content bytes. A BER constructed encoding of a universal
 * type other than SEQUENCE (e.g. 0x2C, a constructed UTF8String) is not DER,
 * but a CA that copies subjects verbatim signs it and OpenSSL accepts it:
 * asn1_collect() concatenates the contents of its primitive segments
 * (nested up to 5 deep, inner tags ignored, universal class required) and
 * the value is then treated as the primitive type. Primitive values are
 * returned without copying. Throws on segments OpenSSL would refuse.
 */
export function attributeValue(buf: Uint8Array, t: Tlv): { tag: number; bytes: Uint8Array; collected: boolean } {
  if ((t.tag & 0xe0) !== 0x20 || t.tag === 0x30) return { tag: t.tag, bytes: buf.subarray(t.contentStart, t.end), collected: false };
  const parts: Uint8Array[] = [];
  const collect = (outer: Tlv, depth: number): void => {
    for (const seg of children(buf, outer)) {
      if ((seg.tag & 0xc0) !== 0) throw new Error('DER: constructed string segment not universal');
      if (seg.tag & 0x20) {
        if (depth >= MAX_STRING_NEST) throw new Error('DER: constructed string nested too deep');
        collect(seg, depth + 1);
      } else parts.push(buf.subarray(seg.contentStart, seg.end));
    }
  };
  collect(t, 0);
  return { tag: t.tag & 0x1f, bytes: Buffer.concat(parts), collected: true };
}

/** Decodes an OBJECT IDENTIFIER's content to dotted form. */
export function decodeOid(buf: Uint8Array, t: Tlv): string {
  const parts: number[] = [];
  let v = 0;
  for (let p = t.contentStart; p < t.end; p++) {
    const b = buf[p]!;
    v = v * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      if (parts.length === 0) {
        const first = v < 80 ? Math.floor(v / 40) : 2;
        parts.push(first, v - first * 40);
      } else parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

/** The parts of a certificate that identity extraction needs. */
export interface CertificateParts {
  readonly serial: Tlv;
  readonly issuer: Tlv;
  readonly subject: Tlv;
  readonly notBefore: Tlv;
  readonly notAfter: Tlv;
  /** The extnValue OCTET STRING content of subjectAltName, if present. */
  readonly subjectAltName: Tlv | undefined;
}

const OID_SAN = '2.5.29.17';

/** Splits an X.509 certificate into the fields identity extraction uses. */
export function certificateParts(der: Uint8Array): CertificateParts {
  const cert = readTlv(der, 0);
  const tbs = readTlv(der, cert.contentStart, cert.end);
  const f = children(der, tbs);
  let i = 0;
  if (f[0] && f[0].tag === 0xa0) i = 1; // [0] version
  const [serial, , issuer, validity, subject] = f.slice(i, i + 5);
  if (!serial || !issuer || !validity || !subject) throw new Error('DER: not a certificate');
  const [notBefore, notAfter] = children(der, validity);
  if (!notBefore || !notAfter) throw new Error('DER: bad validity');
  let subjectAltName: Tlv | undefined;
  const extsWrapper = f.find((t) => t.tag === 0xa3);
  if (extsWrapper) {
    const exts = readTlv(der, extsWrapper.contentStart, extsWrapper.end);
    for (const ext of children(der, exts)) {
      const parts = children(der, ext);
      if (parts[0] && decodeOid(der, parts[0]) === OID_SAN) {
        const value = parts[parts.length - 1]!;
        subjectAltName = readTlv(der, value.contentStart, value.end);
      }
    }
  }
  return { serial, issuer, subject, notBefore, notAfter, subjectAltName };
}

/** Parses a UTCTime or GeneralizedTime to epoch milliseconds. */
export function decodeTime(buf: Uint8Array, t: Tlv): number {
  const s = Buffer.from(buf.subarray(t.contentStart, t.end)).toString('latin1');
  const m = t.tag === 0x17 ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s) : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) throw new Error('DER: bad time');
  let year = Number(m[1]);
  if (t.tag === 0x17) year += year < 50 ? 2000 : 1900;
  return Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

/**
 * nextUpdate of a CRL (epoch ms), or null when the CRL has none. Reads only
 * the TBSCertList header; OpenSSL parses and checks the whole CRL.
 */
export function crlNextUpdate(der: Uint8Array): number | null {
  const list = readTlv(der, 0);
  const tbs = readTlv(der, list.contentStart, list.end);
  const f = children(der, tbs);
  let i = f[0]?.tag === 0x02 ? 1 : 0; // version
  i += 3; // signature, issuer, thisUpdate
  const next = f[i];
  return next !== undefined && (next.tag === 0x17 || next.tag === 0x18) ? decodeTime(der, next) : null;
}
