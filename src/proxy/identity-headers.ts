/**
 * The identity headers a connection's requests carry upstream, built once
 * per connection (never per request) from the peer identity.
 */
import type { IdentityHeaderNames } from '../config/index.js';
import type { PeerIdentity } from '../tls/index.js';

export interface IdentityHeaderOptions {
  readonly names: IdentityHeaderNames;
  readonly fingerprintAlgorithm: 'sha1' | 'sha256';
  readonly xfcc: boolean;
  readonly rfc9440: boolean;
}

/**
 * Flat `[name, value, name, value, …]` list of the identity headers for
 * `id`. Every value is printable ASCII: DNs are RFC 2253-escaped, PEM is
 * URL-escaped, DER is base64. An empty subject DN sends no subject header,
 * as nginx does for an empty `$ssl_client_s_dn`.
 */
export function buildIdentityHeaders(id: PeerIdentity, o: IdentityHeaderOptions): string[] {
  const h: string[] = [];
  const n = o.names;
  if (id.subjectDN !== '') h.push(n.subjectDN, id.subjectDN);
  if (n.issuerDN && id.issuerDN !== '') h.push(n.issuerDN, id.issuerDN);
  if (n.verify) h.push(n.verify, 'SUCCESS');
  if (n.serial) h.push(n.serial, id.serial);
  if (n.fingerprint) h.push(n.fingerprint, o.fingerprintAlgorithm === 'sha256' ? id.fingerprintSha256 : id.fingerprintSha1);
  if (n.cert) h.push(n.cert, escapeComponent(toPem(id.der)));
  if (o.xfcc) h.push('x-forwarded-client-cert', xfccValue(id));
  if (o.rfc9440) {
    h.push('client-cert', `:${id.der.toString('base64')}:`);
    if (id.chainDer.length > 0) h.push('client-cert-chain', id.chainDer.map((d) => `:${d.toString('base64')}:`).join(', '));
  }
  return h;
}

/** PEM as OpenSSL's PEM_write_bio_X509 writes it: 64-character lines, final newline. */
export function toPem(der: Buffer): string {
  const b64 = der.toString('base64');
  let body = '';
  for (let i = 0; i < b64.length; i += 64) body += b64.slice(i, i + 64) + '\n';
  return `-----BEGIN CERTIFICATE-----\n${body}-----END CERTIFICATE-----\n`;
}

// nginx's ngx_escape_uri(NGX_ESCAPE_URI_COMPONENT) table, which
// $ssl_client_escaped_cert uses: everything but ALPHA DIGIT - . _ ~ gets %XX.
const KEEP = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") KEEP[c.charCodeAt(0)] = 1;
const HEX = '0123456789ABCDEF';

/** URL-escapes like nginx's `$ssl_client_escaped_cert`. */
export function escapeComponent(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c < 128 && KEEP[c] ? s[i] : '%' + HEX[c >> 4] + HEX[c & 15];
  }
  return out;
}

/** A quoted-string of Envoy's XFCC grammar: `"` and `\` escaped, so no value can forge a field. */
function quote(v: string): string {
  return '"' + v.replace(/["\\]/g, '\\$&') + '"';
}

/** Envoy's X-Forwarded-Client-Cert element for the peer: Hash, Subject, URI, DNS. */
export function xfccValue(id: PeerIdentity): string {
  let v = `Hash=${id.fingerprintSha256};Subject=${quote(id.subjectDN)}`;
  for (const u of id.uri) v += `;URI=${quote(u)}`;
  for (const d of id.dns) v += `;DNS=${quote(d)}`;
  return v;
}
