/**
 * The DN golden cases (test/golden/dn/<case>.in + <case>.out) and the client
 * certificates they describe, shared by dn.test.ts (openssl oracle) and
 * dn-differential.test.ts (nginx oracle).
 *
 * A `.in` file is JSON, one of two forms:
 *
 *   { "about": "…", "subj": "/O=…/CN=…", "args": ["-utf8", "-multivalue-rdn"], "san": "DNS:a,URI:b" }
 *     → `openssl req -new -subj SUBJ ARGS -addext subjectAltName=SAN`: OpenSSL
 *       chooses the string types and orders multi-valued RDN members itself.
 *
 *   { "about": "…", "rdns": [[{ "type": "CN", "tag": "bmp", "value": "…" }, …], …], "san": [["dns", "a"]] }
 *     → the Name's DER written byte by byte (RDNs most significant first, SET
 *       members in the order given, not DER-sorted), for what `-subj` cannot
 *       express: BMPString, T61String, NUL/CR/LF bytes, invalid UTF-8,
 *       non-string values, an empty subject. An attribute is
 *       `{ type, tag, value }` (value encoded per tag: UTF-8, Latin-1 bytes,
 *       UTF-16BE or UTF-32BE), `{ type, tag, hex }` (content bytes as given),
 *       or `{ type, raw }` (the whole value TLV in hex).
 *
 * Every CSR is signed by our own CA (`signCsr`, profile client), which
 * copies the subject DER verbatim. `.out` holds the expected RFC 2253 string
 * followed by one newline.
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { signCsr } from '../../src/ca/index.js';
import { tlv } from '../../src/ca/der.js';

export const GOLDEN_DIR = fileURLToPath(new URL('../golden/dn/', import.meta.url));

interface Attr {
  type: string;
  tag?: keyof typeof TAGS;
  value?: string;
  hex?: string;
  raw?: string;
}

export interface CaseSpec {
  about: string;
  subj?: string;
  args?: string[];
  rdns?: Attr[][];
  san?: string | [string, string][];
}

export interface DnCase {
  name: string;
  spec: CaseSpec;
  /** The `.out` content without its final newline. */
  expected: string;
}

export interface MintedCase extends DnCase {
  certFile: string;
  keyFile: string;
  certPem: string;
  der: Buffer;
}

/** Attribute types by the name the `.in` files use (dotted OIDs pass through). */
const TYPES: Record<string, string> = {
  C: '2.5.4.6',
  ST: '2.5.4.8',
  L: '2.5.4.7',
  street: '2.5.4.9',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  CN: '2.5.4.3',
  SN: '2.5.4.4',
  GN: '2.5.4.42',
  serialNumber: '2.5.4.5',
  title: '2.5.4.12',
  postalCode: '2.5.4.17',
  emailAddress: '1.2.840.113549.1.9.1',
  DC: '0.9.2342.19200300.100.1.25',
  UID: '0.9.2342.19200300.100.1.1',
};

const TAGS = {
  utf8: 0x0c,
  numeric: 0x12,
  printable: 0x13,
  t61: 0x14,
  ia5: 0x16,
  visible: 0x1a,
  universal: 0x1c,
  bmp: 0x1e,
} as const;

/** Every case of test/golden/dn, sorted by name. */
export function loadCases(): DnCase[] {
  return readdirSync(GOLDEN_DIR)
    .filter((f) => f.endsWith('.in'))
    .sort()
    .map((f) => {
      const name = f.slice(0, -3);
      const spec = JSON.parse(readFileSync(join(GOLDEN_DIR, f), 'utf8')) as CaseSpec;
      const out = readFileSync(join(GOLDEN_DIR, `${name}.out`), 'latin1');
      if (!out.endsWith('\n')) throw new Error(`${name}.out must end with one newline`);
      return { name, spec, expected: out.slice(0, -1) };
    });
}

function oidDer(dotted: string): Buffer {
  const p = dotted.split('.').map(Number);
  const arcs = [p[0]! * 40 + p[1]!, ...p.slice(2)];
  const bytes: number[] = [];
  for (const a of arcs) {
    const b = [a & 0x7f];
    for (let v = Math.floor(a / 128); v > 0; v = Math.floor(v / 128)) b.unshift(0x80 | (v & 0x7f));
    bytes.push(...b);
  }
  return tlv(0x06, Buffer.from(bytes));
}

function valueDer(a: Attr): Buffer {
  if (a.raw !== undefined) return Buffer.from(a.raw, 'hex');
  const tag = TAGS[a.tag ?? 'utf8'];
  if (a.hex !== undefined) return tlv(tag, Buffer.from(a.hex, 'hex'));
  const v = a.value ?? '';
  switch (tag) {
    case TAGS.utf8:
      return tlv(tag, Buffer.from(v, 'utf8'));
    case TAGS.bmp:
      return tlv(tag, Buffer.from(v, 'utf16le').swap16());
    case TAGS.universal:
      return tlv(tag, Buffer.concat([...v].map((ch) => { const b = Buffer.alloc(4); b.writeUInt32BE(ch.codePointAt(0)!); return b; })));
    default:
      return tlv(tag, Buffer.from(v, 'latin1'));
  }
}

/** The subject Name DER of an `rdns` spec. */
export function nameDer(rdns: Attr[][]): Buffer {
  return tlv(0x30, Buffer.concat(rdns.map((rdn) => tlv(0x31, Buffer.concat(rdn.map((a) => tlv(0x30, Buffer.concat([oidDer(TYPES[a.type] ?? a.type), valueDer(a)]))))))));
}

function sanDer(entries: [string, string][]): Buffer {
  const gn = entries.map(([k, v]) => {
    if (k === 'dns') return tlv(0x82, Buffer.from(v, 'latin1'));
    if (k === 'uri') return tlv(0x86, Buffer.from(v, 'latin1'));
    if (k === 'email') return tlv(0x81, Buffer.from(v, 'latin1'));
    if (k === 'ip' && isIP(v) === 4) return tlv(0x87, Buffer.from(v.split('.').map(Number)));
    throw new Error(`unsupported SAN ${k}:${v}`);
  });
  return tlv(0x30, Buffer.concat(gn));
}

/** A PKCS#10 request for `subject` (DER), optionally asking for a subjectAltName, signed by `key` (P-256). */
function handMadeCsr(subject: Buffer, san: [string, string][] | undefined, pub: KeyObject, key: KeyObject): Buffer {
  let attrs: Buffer = Buffer.alloc(0);
  if (san) {
    const ext = tlv(0x30, Buffer.concat([oidDer('2.5.29.17'), tlv(0x04, sanDer(san))]));
    attrs = tlv(0x30, Buffer.concat([oidDer('1.2.840.113549.1.9.14'), tlv(0x31, tlv(0x30, ext))]));
  }
  const cri = tlv(0x30, Buffer.concat([tlv(0x02, Buffer.from([0])), subject, pub.export({ type: 'spki', format: 'der' }), tlv(0xa0, attrs)]));
  const sig = sign('sha256', cri, key);
  return tlv(0x30, Buffer.concat([cri, tlv(0x30, oidDer('1.2.840.10045.4.3.2')), tlv(0x03, Buffer.concat([Buffer.from([0]), sig]))]));
}

/**
 * Mints one client certificate per case under `dir`, signed by the CA store
 * `caDir`. The cases of one call share a P-256 key (written to dir/<case>.key).
 */
export async function mintCases(dir: string, caDir: string, cases: DnCase[]): Promise<MintedCase[]> {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' });
  const out: MintedCase[] = [];
  for (const c of cases) {
    const keyFile = join(dir, `${c.name}.key`);
    writeFileSync(keyFile, keyPem, { mode: 0o600 });
    let csr: string | Buffer;
    if (c.spec.subj !== undefined) {
      const args = ['req', '-new', '-key', keyFile, '-subj', c.spec.subj, ...(c.spec.args ?? [])];
      if (typeof c.spec.san === 'string') args.push('-addext', `subjectAltName=${c.spec.san}`);
      const r = spawnSync('openssl', args, { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${c.name}: openssl req failed: ${r.stderr}`);
      csr = r.stdout;
    } else if (c.spec.rdns !== undefined) {
      csr = handMadeCsr(nameDer(c.spec.rdns), Array.isArray(c.spec.san) ? c.spec.san : undefined, publicKey, privateKey);
    } else throw new Error(`${c.name}: needs subj or rdns`);
    const certFile = join(dir, `${c.name}.crt`);
    const res = await signCsr({ dir: caDir, csr, profile: 'client', outPath: certFile });
    const der = Buffer.from(res.certPem.split('-----')[2]!.replace(/\s+/g, ''), 'base64');
    out.push({ ...c, certFile, keyFile, certPem: res.certPem, der });
  }
  return out;
}

const refused = (name: string, about: string, rdns: Attr[][]): DnCase => ({ name, spec: { about, rdns }, expected: '' });

/**
 * Subjects OpenSSL refuses to decode, so a certificate carrying one never
 * completes a handshake with nginx or with ztproxy (both use OpenSSL): its
 * X509_NAME decoder accepts only the DirectoryString-like types of
 * B_ASN1_PRINTABLE and converts every string to UTF-8 for the canonical
 * form, failing on bad UTF-8, surrogates or code points past U+10FFFF.
 */
export const UNPARSEABLE: DnCase[] = [
  refused('invalid-utf8', 'bytes that are not UTF-8 in a UTF8String', [[{ type: 'CN', tag: 'utf8', hex: 'ff41' }]]),
  refused('bmp-surrogates', 'a surrogate pair in a BMPString (UCS-2 only)', [[{ type: 'CN', tag: 'bmp', value: 'key \u{1f510}' }]]),
  refused('universal-too-big', 'a UniversalString code point above U+10FFFF', [[{ type: 'CN', tag: 'universal', hex: '00110000' }]]),
  refused('octet-string', 'an OCTET STRING value', [[{ type: 'CN', raw: '0401ff' }]]),
  refused('integer', 'an INTEGER value', [[{ type: '1.3.6.1.4.1.99999.3', raw: '020101' }]]),
  refused('visible-string', 'a VisibleString value (not in B_ASN1_PRINTABLE)', [[{ type: 'CN', raw: '1a0161' }]]),
  refused('context-tag', 'a context-specific tag', [[{ type: 'CN', raw: '8001ff' }]]),
];
