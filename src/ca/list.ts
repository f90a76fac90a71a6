/** `ca list`: the index, sorted by expiry, with each entry's current status. */
import { ZtpError } from '../util/index.js';
import { readIndex, resolveDir, type Profile } from './store.js';

export type CertStatus = 'valid' | 'expired' | 'revoked';

/** One row of `ca list --json`. */
export interface ListedCertificate {
  /** Lower-case hex. */
  serial: string;
  /** RFC 2253. */
  subject: string;
  profile: Profile;
  /** ISO 8601. */
  notAfter: string;
  status: CertStatus;
}

export interface ListOptions {
  dir?: string;
  now?: Date;
}

/** Every certificate the store issued, soonest expiry first. `ZTP_CA_NOT_FOUND` without a store. */
export async function listCertificates(opts: ListOptions = {}): Promise<ListedCertificate[]> {
  const dir = resolveDir(opts.dir);
  const idx = await readIndex(dir);
  const now = (opts.now ?? new Date()).getTime();
  return idx.entries
    .map((e): ListedCertificate => {
      const t = Date.parse(e.notAfter);
      if (Number.isNaN(t)) throw new ZtpError('ZTP_CA_INVALID_INPUT', `index entry ${e.serial}: bad notAfter`);
      const status: CertStatus = e.revokedAt ? 'revoked' : t <= now ? 'expired' : 'valid';
      return { serial: e.serial, subject: e.subject, profile: e.profile, notAfter: new Date(t).toISOString(), status };
    })
    .sort((a, b) => Date.parse(a.notAfter) - Date.parse(b.notAfter) || a.serial.localeCompare(b.serial));
}

/** A fixed-width text table of `rows` for the terminal. */
export function formatTable(rows: ListedCertificate[]): string {
  const head = ['SERIAL', 'SUBJECT', 'PROFILE', 'NOT AFTER', 'STATUS'];
  const cells = rows.map((r) => [r.serial, r.subject, r.profile, r.notAfter, r.status]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  return [head, ...cells].map((c) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}
