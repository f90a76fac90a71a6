import { randomBytes } from 'node:crypto';
import { WireReader } from './wire-reader.js';
import { WireWriter } from './wire-writer.js';
import type { CaKey } from './ca-key.js';
import type { SshPublicKey } from './public-key.js';

/** The extensions `ssh-keygen -s` grants user certificates by default, sorted by name as PROTOCOL.certkeys requires. */
export const DEFAULT_USER_EXTENSIONS = [
  'permit-X11-forwarding',
  'permit-agent-forwarding',
  'permit-port-forwarding',
  'permit-pty',
  'permit-user-rc',
] as const;

/** What goes into one certificate. Times are seconds since the epoch. */
export interface CertificateFields {
  subject: SshPublicKey;
  serial: number;
  certType: 'user' | 'host';
  keyId: string;
  principals: string[];
  validAfter: number;
  validBefore: number;
}

/**
 * Builds and signs an OpenSSH certificate exactly as PROTOCOL.certkeys lays
 * it out: type, 32-byte random nonce, the subject key's fields, serial, type
 * (1 user, 2 host), key id, principals, validity, no critical options, the
 * default extensions for user certificates (none for host certificates),
 * empty reserved, the CA public key, and the CA's signature over all of it.
 * Returns the certificate blob (the base64 field of `*-cert.pub`).
 */
export function buildCertificate(ca: CaKey, f: CertificateFields): Buffer {
  const sub = new WireReader(f.subject.blob, 'subject key');
  sub.name(); // the plain key type; its fields follow unchanged
  const keyFields = sub.raw(sub.remaining);
  const principals = new WireWriter();
  for (const p of f.principals) principals.string(p);
  const extensions = new WireWriter();
  if (f.certType === 'user') {
    // Flag extensions carry an empty data string.
    for (const name of [...DEFAULT_USER_EXTENSIONS].sort()) extensions.string(name).string('');
  }
  const body = new WireWriter()
    .string(`${f.subject.type}-cert-v01@openssh.com`)
    .string(randomBytes(32))
    .raw(keyFields)
    .uint64(f.serial)
    .uint32(f.certType === 'user' ? 1 : 2)
    .string(f.keyId)
    .string(principals.toBuffer())
    .uint64(f.validAfter)
    .uint64(f.validBefore)
    .string('') // critical options: none (no force-command, no source-address)
    .string(extensions.toBuffer())
    .string('') // reserved
    .string(ca.publicBlob)
    .toBuffer();
  return new WireWriter().raw(body).string(ca.sign(body)).toBuffer();
}
