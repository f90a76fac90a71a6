import { WireWriter } from './wire-writer.js';

// PROTOCOL.krl in the OpenSSH sources.
const KRL_MAGIC = 0x5353484b524c0a00n; // "SSHKRL\n\0"
const KRL_FORMAT_VERSION = 1;
const KRL_SECTION_CERTIFICATES = 1;
const KRL_SECTION_EXPLICIT_KEY = 2;
const KRL_SECTION_CERT_SERIAL_LIST = 0x20;

/** The state a KRL is rendered from. */
export interface KrlContent {
  /** Monotonic version; `ssh-keygen -Q -l` shows it. */
  version: number;
  /** Seconds since the epoch. */
  generatedAt: number;
  comment: string;
  /** The CA public key blob that the serials belong to. */
  caKeyBlob: Buffer;
  /** Revoked certificate serials of that CA (non-zero). */
  serials: number[];
  /** Revoked plain public key blobs; a listed key also revokes every certificate for it. */
  keys: Buffer[];
}

/**
 * Renders a binary Key Revocation List that sshd's `RevokedKeys` and
 * `ssh-keygen -Q` read: a header, then a certificates section with a serial
 * list under the CA key, then an explicit-key section. Serials and keys are
 * sorted and de-duplicated so the same state always gives the same sections.
 * An empty state gives a header-only KRL, which revokes nothing.
 */
export function encodeKrl(c: KrlContent): Buffer {
  const w = new WireWriter()
    .uint64(KRL_MAGIC)
    .uint32(KRL_FORMAT_VERSION)
    .uint64(c.version)
    .uint64(c.generatedAt)
    .uint64(0) // flags
    .string('') // reserved
    .string(c.comment);
  const serials = [...new Set(c.serials)].filter((s) => s > 0).sort((a, b) => a - b);
  if (serials.length > 0) {
    const list = new WireWriter();
    for (const s of serials) list.uint64(s);
    const section = new WireWriter().string(c.caKeyBlob).string('').byte(KRL_SECTION_CERT_SERIAL_LIST).string(list.toBuffer());
    w.byte(KRL_SECTION_CERTIFICATES).string(section.toBuffer());
  }
  const seen = new Set<string>();
  const keys = c.keys.filter((k) => !seen.has(k.toString('hex')) && seen.add(k.toString('hex'))).sort(Buffer.compare);
  if (keys.length > 0) {
    const section = new WireWriter();
    for (const k of keys) section.string(k);
    w.byte(KRL_SECTION_EXPLICIT_KEY).string(section.toBuffer());
  }
  return w.toBuffer();
}
