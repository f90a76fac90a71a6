/**
 * Revocation: `revoke` marks index entries, `writeCrl` signs `crl.pem` from
 * the index. Both run under the store lock.
 */
import { join } from 'node:path';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as asn1X509 from '@peculiar/asn1-x509';
import * as x509 from './x509.js';
import { ZtpError } from '../util/index.js';
import { withDirLock, writeFileAtomic } from '../util/index.js';
import { CRL_FILE, loadCA, readIndex, resolveDir, writeIndex, type IndexEntry, type LoadedCA, type StoreIndex } from './store.js';

/** Default CRL lifetime: 7 days. Re-run `ztproxy ca crl` (e.g. from a timer) before it passes. */
export const DEFAULT_CRL_NEXT_UPDATE_SECONDS = 7 * 86400;

/** RFC 5280 reason names `--reason` accepts. */
export const REVOCATION_REASONS = ['unspecified', 'keyCompromise', 'cACompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation', 'certificateHold', 'privilegeWithdrawn', 'aACompromise'] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

/** Signs a CRL listing every revoked entry of `idx` (bumps `idx.crlNumber`) and writes `crl.pem` (0644). */
export async function signCrlInto(ca: LoadedCA, idx: StoreIndex, nextUpdateSeconds = DEFAULT_CRL_NEXT_UPDATE_SECONDS): Promise<string> {
  const now = new Date();
  idx.crlNumber = (idx.crlNumber ?? 0) + 1;
  const issuerSki = ca.cert.getExtension(x509.SubjectKeyIdentifierExtension);
  const extensions: x509.Extension[] = [new x509.Extension(asn1X509.id_ce_cRLNumber, false, AsnConvert.serialize(new asn1X509.CRLNumber(idx.crlNumber)))];
  if (issuerSki) extensions.push(new x509.AuthorityKeyIdentifierExtension(issuerSki.keyId));
  let crl: x509.X509Crl;
  try {
    crl = await x509.X509CrlGenerator.create({
      issuer: ca.cert.subjectName,
      thisUpdate: new Date(now.getTime() - 60_000),
      nextUpdate: new Date(now.getTime() + nextUpdateSeconds * 1000),
      signingKey: ca.signer.cryptoKey as never,
      signingAlgorithm: ca.signer.signingAlgorithm as never,
      extensions,
      entries: idx.entries
        .filter((e) => e.revokedAt)
        .map((e) => ({
          serialNumber: e.serial,
          revocationDate: new Date(e.revokedAt!),
          reason: e.reason ? x509.X509CrlReason[e.reason as keyof typeof x509.X509CrlReason] : undefined,
        })),
    });
  } catch (cause) {
    throw new ZtpError('ZTP_CA_ISSUE', 'signing the CRL failed', { cause });
  }
  const pem = x509.PemConverter.encode(crl.rawData, 'X509 CRL') + '\n'; // OpenSSL and nginx want this label, x509 writes "CRL"
  await writeFileAtomic(join(ca.dir, CRL_FILE), pem, 0o644);
  return pem;
}

export interface WriteCrlOptions {
  dir?: string;
  passphrase?: string;
  /** Seconds until nextUpdate; default {@link DEFAULT_CRL_NEXT_UPDATE_SECONDS}. */
  nextUpdateSeconds?: number;
}

/** Re-signs `crl.pem` from the index. Returns its path and PEM. */
export async function writeCrl(opts: WriteCrlOptions): Promise<{ crlPath: string; crlPem: string }> {
  const dir = resolveDir(opts.dir);
  const ca = await loadCA(dir, opts.passphrase);
  return withDirLock(dir, async () => {
    const idx = await readIndex(dir);
    const crlPem = await signCrlInto(ca, idx, opts.nextUpdateSeconds);
    await writeIndex(dir, idx);
    return { crlPath: join(dir, CRL_FILE), crlPem };
  });
}

export interface RevokeOptions {
  dir?: string;
  passphrase?: string;
  /** Serial in hex (any case, colons and a leading 00 allowed). */
  serial?: string;
  /** Revokes every unrevoked certificate whose CN is this. */
  cn?: string;
  reason?: RevocationReason;
  nextUpdateSeconds?: number;
}

function normalizeSerial(s: string): string {
  const hex = s.replace(/[:\s]/g, '').toLowerCase().replace(/^0x/, '');
  if (!/^[0-9a-f]+$/.test(hex)) throw new ZtpError('ZTP_CA_INVALID_INPUT', `not a hex serial: ${JSON.stringify(s)}`);
  return hex.replace(/^(00)+(?=[0-9a-f])/, '');
}

/**
 * Marks certificates revoked (by serial, or every valid one with a CN) and
 * re-signs the CRL. Throws `ZTP_CA_NO_SUCH_CERT` when nothing matches;
 * revoking an already revoked serial keeps its first revocation time.
 */
export async function revoke(opts: RevokeOptions): Promise<{ revoked: IndexEntry[]; crlPath: string }> {
  const dir = resolveDir(opts.dir);
  if ((opts.serial === undefined) === (opts.cn === undefined)) throw new ZtpError('ZTP_CA_INVALID_INPUT', 'name exactly one of serial or cn');
  const reason = opts.reason ?? 'unspecified';
  if (!(REVOCATION_REASONS as readonly string[]).includes(reason)) throw new ZtpError('ZTP_CA_INVALID_INPUT', `unknown revocation reason ${JSON.stringify(reason)}`);
  const serial = opts.serial === undefined ? undefined : normalizeSerial(opts.serial);
  const ca = await loadCA(dir, opts.passphrase);
  return withDirLock(dir, async () => {
    const idx = await readIndex(dir);
    const matches = idx.entries.filter((e) => (serial !== undefined ? e.serial === serial : e.cn === opts.cn && !e.revokedAt));
    if (matches.length === 0) throw new ZtpError('ZTP_CA_NO_SUCH_CERT', serial !== undefined ? `no certificate with serial ${serial} in ${dir}` : `no valid certificate with CN ${JSON.stringify(opts.cn)} in ${dir}`);
    const now = new Date().toISOString();
    for (const e of matches) {
      if (e.revokedAt) continue;
      e.revokedAt = now;
      e.reason = reason;
    }
    await signCrlInto(ca, idx, opts.nextUpdateSeconds);
    await writeIndex(dir, idx);
    return { revoked: matches, crlPath: join(dir, CRL_FILE) };
  });
}
