/**
 * The RFC 2253 subject string the index and `ca list` show.
 *
 * src/tls/dn.ts (owned by the tls work) is the exact OpenSSL XN_FLAG_RFC2253
 * printer; it is used when present. Until it lands, a close approximation
 * built on x509's Name is used (known divergences: non-ASCII and unknown OIDs
 * are not hex-escaped). TODO: import formatDN statically once src/tls/dn.ts exists.
 */
import * as x509 from './x509.js';

type FormatDN = (nameDer: Uint8Array) => string;
let formatDN: FormatDN | undefined;
try {
  // A computed specifier so this compiles before src/tls/dn.ts exists.
  const spec = '../tls/dn.js';
  const mod = (await import(spec)) as { formatDN?: FormatDN };
  formatDN = mod.formatDN;
} catch {
  formatDN = undefined;
}

function escape(value: string): string {
  return value
    .replace(/[\\,+"<>;=]/g, (c) => `\\${c}`)
    .replace(/^[ #]/, (c) => `\\${c}`)
    .replace(/ $/, '\\ ');
}

/** RFC 2253 form of a DER Name: last RDN first, `,` between RDNs, `+` inside one. */
export function formatSubject(nameDer: Uint8Array): string {
  if (formatDN) return formatDN(nameDer);
  const rdns = new x509.Name(nameDer).toJSON();
  return rdns
    .slice()
    .reverse()
    .map((rdn) =>
      Object.entries(rdn)
        .flatMap(([type, values]) => values.map((v) => `${type === 'E' ? 'emailAddress' : type}=${escape(v)}`))
        .join('+'),
    )
    .join(',');
}

/** The first CN of a DER Name, if any. */
export function firstCn(nameDer: Uint8Array): string | undefined {
  return new x509.Name(nameDer).getField('CN')[0];
}
