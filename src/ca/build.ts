/**
 * Certificate construction shared by every command: validity windows,
 * profile extensions, and the signing call (x509 generator, or a verbatim
 * subject splice for CSRs and renewals).
 */
import { sign as nodeSign } from 'node:crypto';
import { isIP as netIsIP } from 'node:net';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as asn1X509 from '@peculiar/asn1-x509';
import * as x509 from './x509.js';
import { ZtpError } from '../util/index.js';
import { replaceSubject } from './der.js';
import type { LoadedCA } from './store.js';
import type { Signer } from './keys.js';

/** notBefore is set this far in the past so a client with a slow clock accepts a fresh certificate. */
export const CLOCK_SKEW_SECONDS = 60;

/** OIDs of the extended key usages we set. */
export const EKU = { serverAuth: '1.3.6.1.5.5.7.3.1', clientAuth: '1.3.6.1.5.5.7.3.2' } as const;

/** A validity window. */
export interface Validity {
  notBefore: Date;
  notAfter: Date;
}

/**
 * The validity of a new certificate issued by `ca`: from a little in the past
 * (at most {@link CLOCK_SKEW_SECONDS}, a tenth of the TTL for very short ones,
 * so renewal at 2/3 of the lifetime still lands in the future) to now +
 * `ttlSeconds`. Explicit `notBefore`/`notAfter` win (tests mint expired and
 * not-yet-valid certificates). Throws `ZTP_CA_TTL` when notAfter is past the
 * CA's own notAfter.
 */
export function validityFor(ca: LoadedCA | undefined, ttlSeconds: number, override: Partial<Validity> = {}, now = new Date()): Validity {
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) throw new ZtpError('ZTP_CA_TTL', `TTL must be a positive number of seconds, got ${ttlSeconds}`);
  const skewMs = Math.min(CLOCK_SKEW_SECONDS * 1000, (ttlSeconds * 1000) / 10);
  const notBefore = override.notBefore ?? new Date(now.getTime() - skewMs);
  const notAfter = override.notAfter ?? new Date(now.getTime() + ttlSeconds * 1000);
  if (notAfter.getTime() <= notBefore.getTime()) throw new ZtpError('ZTP_CA_TTL', 'notAfter must be after notBefore');
  if (ca && notAfter.getTime() > ca.cert.notAfter.getTime()) {
    throw new ZtpError('ZTP_CA_TTL', `requested notAfter ${notAfter.toISOString()} is past the CA's own notAfter ${ca.cert.notAfter.toISOString()}`);
  }
  return { notBefore, notAfter };
}

/** Throws `ZTP_CA_INVALID_INPUT` if `value` is empty or has control characters (NUL included). */
export function checkText(value: string, what: string): string {
  // eslint-disable-next-line no-control-regex
  if (value.length === 0 || /[\u0000-\u001f\u007f]/.test(value)) {
    throw new ZtpError('ZTP_CA_INVALID_INPUT', `${what}: must be non-empty without control characters, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Throws `ZTP_CA_INVALID_INPUT` unless `name` is a DNS name (a leading `*.` allowed). */
export function checkDnsName(name: string): string {
  if (!/^(\*\.)?([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*$/.test(name) || name.length > 253) {
    throw new ZtpError('ZTP_CA_INVALID_INPUT', `not a DNS name: ${JSON.stringify(name)}`);
  }
  return name.toLowerCase();
}

export function checkIp(ip: string): string {
  if (netIsIP(ip) === 0) throw new ZtpError('ZTP_CA_INVALID_INPUT', `not an IP address: ${JSON.stringify(ip)}`);
  return ip;
}

/** SubjectKeyIdentifier + AuthorityKeyIdentifier for a certificate of `spki` issued by `ca`. */
async function keyIdExtensions(spki: Uint8Array, issuer: x509.X509Certificate | undefined): Promise<x509.Extension[]> {
  const pub = new x509.PublicKey(spki);
  const ski = await x509.SubjectKeyIdentifierExtension.create(pub);
  const out: x509.Extension[] = [ski];
  if (issuer) {
    const issuerSki = issuer.getExtension(x509.SubjectKeyIdentifierExtension);
    out.push(issuerSki ? new x509.AuthorityKeyIdentifierExtension(issuerSki.keyId) : await x509.AuthorityKeyIdentifierExtension.create(issuer));
  } else {
    out.push(new x509.AuthorityKeyIdentifierExtension(ski.keyId));
  }
  return out;
}

/**
 * The critical X.509 name constraints extension permitting only `dns`
 * subtrees (`.internal` or `internal` both mean the domain and everything
 * under it) and `ip` CIDR ranges.
 */
export function nameConstraintsExtension(dns: string[], ips: string[]): x509.Extension {
  const subtrees = [
    ...dns.map((d) => new asn1X509.GeneralSubtree({ base: new asn1X509.GeneralName({ dNSName: checkDnsName(d.replace(/^\./, '')) }) })),
    ...ips.map((cidr) => {
      const [addr, prefix] = cidr.split('/');
      if (!addr || prefix === undefined || netIsIP(addr) === 0 || !/^[0-9]{1,3}$/.test(prefix) || Number(prefix) > (netIsIP(addr) === 4 ? 32 : 128)) {
        throw new ZtpError('ZTP_CA_INVALID_INPUT', `--permit-ip: expected a CIDR range like 10.100.0.0/16, got ${JSON.stringify(cidr)}`);
      }
      return new asn1X509.GeneralSubtree({ base: new asn1X509.GeneralName({ iPAddress: cidr }) });
    }),
  ];
  const nc = new asn1X509.NameConstraints({ permittedSubtrees: new asn1X509.GeneralSubtrees(subtrees) });
  return new x509.Extension(asn1X509.id_ce_nameConstraints, true, AsnConvert.serialize(nc));
}

/** Extensions of a CA certificate. `pathLength` 0 for an intermediate that may issue only leaves. */
export async function caExtensions(spki: Uint8Array, issuer: x509.X509Certificate | undefined, pathLength?: number, constraints?: x509.Extension): Promise<x509.Extension[]> {
  const exts: x509.Extension[] = [
    new x509.BasicConstraintsExtension(true, pathLength, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
    ...(await keyIdExtensions(spki, issuer)),
  ];
  if (constraints) exts.push(constraints);
  return exts;
}

/**
 * Checks a CRL distribution point URL: http(s) or ldap, without control
 * characters. Throws `ZTP_CA_INVALID_INPUT`.
 */
export function checkCrlUrl(url: string): string {
  checkText(url, '--crl-url');
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ZtpError('ZTP_CA_INVALID_INPUT', `--crl-url: not a URL: ${JSON.stringify(url)}`);
  }
  if (!['http:', 'https:', 'ldap:'].includes(u.protocol)) throw new ZtpError('ZTP_CA_INVALID_INPUT', `--crl-url: expected an http://, https:// or ldap:// URL, got ${JSON.stringify(url)}`);
  return url;
}

/** The CRL distribution points extension (RFC 5280 4.2.1.13, non-critical) naming one full URL. */
export function crlDistributionPointExtension(url: string): x509.Extension {
  return new x509.CRLDistributionPointsExtension([checkCrlUrl(url)], false);
}

/** Subject alternative names of a leaf. */
export interface Sans {
  dns?: string[];
  ip?: string[];
  email?: string[];
  uri?: string[];
}

export function sanExtension(s: Sans): x509.Extension | undefined {
  const names: x509.JsonGeneralName[] = [
    ...(s.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(s.ip ?? []).map((value) => ({ type: 'ip' as const, value })),
    ...(s.email ?? []).map((value) => ({ type: 'email' as const, value })),
    ...(s.uri ?? []).map((value) => ({ type: 'url' as const, value })),
  ];
  return names.length ? new x509.SubjectAlternativeNameExtension(names, false) : undefined;
}

/** Extensions of a leaf of `profile`; `san` is a prepared SAN extension (from flags or a CSR). */
export async function leafExtensions(profile: 'client' | 'server', spki: Uint8Array, issuer: x509.X509Certificate, san: x509.Extension | undefined, rsa: boolean): Promise<x509.Extension[]> {
  let usage = x509.KeyUsageFlags.digitalSignature;
  if (rsa) usage |= x509.KeyUsageFlags.keyEncipherment;
  const exts: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(usage, true),
    new x509.ExtendedKeyUsageExtension([profile === 'client' ? EKU.clientAuth : EKU.serverAuth], false),
    ...(await keyIdExtensions(spki, issuer)),
  ];
  if (san) exts.push(san);
  return exts;
}

/** Everything needed to sign one certificate. */
export interface SignParams {
  issuer: { name: x509.Name | string; signer: Signer };
  spki: Uint8Array;
  /** A name for the generator, or exact DER bytes to copy verbatim. */
  subject: x509.JsonName | string | Uint8Array;
  serial: string;
  validity: Validity;
  extensions: x509.Extension[];
}

/**
 * Signs a certificate. A DER `subject` is copied byte for byte: the generator
 * signs with a placeholder subject, which is then replaced and the TBS
 * re-signed with node:crypto (see der.ts). Errors are wrapped in `ZTP_CA_ISSUE`.
 */
export async function signCertificate(p: SignParams): Promise<x509.X509Certificate> {
  const raw = p.subject instanceof Uint8Array;
  try {
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: p.serial,
      subject: raw ? 'CN=placeholder' : (p.subject as x509.JsonName | string),
      issuer: p.issuer.name,
      notBefore: p.validity.notBefore,
      notAfter: p.validity.notAfter,
      publicKey: p.spki,
      signingKey: p.issuer.signer.cryptoKey as never,
      signingAlgorithm: p.issuer.signer.signingAlgorithm as never,
      extensions: p.extensions,
    });
    if (!raw) return cert;
    const hash = p.issuer.signer.signingAlgorithm.hash?.replace('-', '').toLowerCase() ?? null;
    const der = replaceSubject(new Uint8Array(cert.rawData), p.subject as Uint8Array, (tbs) => nodeSign(hash, tbs, p.issuer.signer.key));
    return new x509.X509Certificate(der);
  } catch (cause) {
    if (cause instanceof ZtpError) throw cause;
    throw new ZtpError('ZTP_CA_ISSUE', 'signing the certificate failed', { cause });
  }
}
