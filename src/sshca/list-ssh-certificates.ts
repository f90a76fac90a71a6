import { readIndex, type SshCertRecord } from './store.js';

export interface ListSshCertificatesOptions {
  dir: string;
  /** The instant statuses are computed for. Default now. */
  now?: Date;
}

export interface SshCertificateEntry extends SshCertRecord {
  /** `revoked` wins over the validity window. */
  status: 'valid' | 'expired' | 'not-yet-valid' | 'revoked';
}

/**
 * Lists the certificates recorded in the index, in serial order, each with
 * its status at `now`. Throws `ZTP_SSHCA_NOT_FOUND` when `dir` holds no CA.
 */
export async function listSshCertificates(opts: ListSshCertificatesOptions): Promise<SshCertificateEntry[]> {
  const index = await readIndex(opts.dir);
  const now = (opts.now ?? new Date()).getTime();
  const revokedKeys = new Set(index.revokedKeys.map((k) => k.fingerprint));
  return [...index.certificates]
    .sort((a, b) => a.serial - b.serial)
    .map((c) => {
      let status: SshCertificateEntry['status'] = 'valid';
      if (c.revoked || revokedKeys.has(c.fingerprint)) status = 'revoked';
      else if (Date.parse(c.validBefore) <= now) status = 'expired';
      else if (Date.parse(c.validAfter) > now) status = 'not-yet-valid';
      return { ...c, status };
    });
}
