/**
 * The RFC 2253 subject string the index and `ca list` show: the same
 * OpenSSL XN_FLAG_RFC2253 form as nginx's `$ssl_client_s_dn` and the proxy's
 * X-Client-Subject-DN, from src/tls/dn.ts. Imported from dn.ts rather than
 * tls/index.ts on purpose: the index pulls in the TLS context (and
 * @peculiar/x509 ahead of its Reflect shim); dn.ts is dependency-free.
 */
import { formatDN } from '../tls/index.js';
import * as x509 from './x509.js';

/** RFC 2253 form of a DER Name: last RDN first, `,` between RDNs, `+` inside one. */
export function formatSubject(nameDer: Uint8Array): string {
  return formatDN(nameDer);
}

/** The first CN of a DER Name, if any. */
export function firstCn(nameDer: Uint8Array): string | undefined {
  return new x509.Name(nameDer).getField('CN')[0];
}
