/**
 * TLS key-exchange groups: the `ecdhCurve` a context is built with and which
 * group a server-side connection used. The default preference is the
 * schema's (DEFAULT_GROUPS); what OpenSSL offers, and the check of
 * `tls.groups`, live in config (src/config/openssl-names.ts).
 */
import type tls from 'node:tls';
import { DEFAULT_GROUPS, groupOffered } from '../config/index.js';

/** The `ecdhCurve` option: `configured` as given, or the default preference minus what OpenSSL lacks. */
export function ecdhCurveOption(configured: readonly string[] | undefined): string {
  return (configured ?? DEFAULT_GROUPS.filter(groupOffered)).join(':');
}

/**
 * IANA TLS Supported Groups code points → OpenSSL's names. Used only to
 * name what a connection negotiated; anything else is reported as `other`
 * (a closed set of values: the access log never echoes a client's bytes).
 */
const GROUP_NAMES: ReadonlyMap<number, string> = new Map([
  [0x0017, 'P-256'],
  [0x0018, 'P-384'],
  [0x0019, 'P-521'],
  [0x001d, 'X25519'],
  [0x001e, 'X448'],
  [0x0100, 'ffdhe2048'],
  [0x0101, 'ffdhe3072'],
  [0x0102, 'ffdhe4096'],
  [0x0103, 'ffdhe6144'],
  [0x0104, 'ffdhe8192'],
  [0x0200, 'MLKEM512'],
  [0x0201, 'MLKEM768'],
  [0x0202, 'MLKEM1024'],
  [0x11eb, 'SecP256r1MLKEM768'],
  [0x11ec, 'X25519MLKEM768'],
  [0x11ed, 'SecP384r1MLKEM1024'],
]);

/**
 * The key-exchange group a server-side TLS connection negotiated, `none`
 * when the session records none (TLS 1.2 with a cipher without ECDHE/DHE),
 * or null once the socket is closed (no session to read).
 *
 * Node gives the server no call for it: `getEphemeralKeyInfo()` returns null
 * on a server socket. OpenSSL keeps it in the session (`kex_group`, field
 * [19] of its SSL_SESSION ASN.1, in OpenSSL 3.0 and 3.5 alike), and
 * `getSession()` hands out that DER; this reads the field from it (one
 * i2d_SSL_SESSION of about 600 bytes with the client certificate, a few µs, and
 * a walk over its top-level fields): callers read it once per connection, when needed.
 */
export function negotiatedGroup(socket: tls.TLSSocket): string | null {
  // Undefined before the handshake; null (whatever the typings say) once the socket has let go of its handle.
  const der = socket.getSession() as Buffer | null | undefined;
  return der ? groupFromSessionDer(der) : null;
}

/** See {@link negotiatedGroup}; exported for tests of malformed input. */
export function groupFromSessionDer(der: Buffer): string {
  // SEQUENCE { fields... }; the peer's certificate is one of them, so lengths take the long form.
  if (der[0] !== 0x30) return 'none';
  let [p, end] = lengthAt(der, 1);
  end = Math.min(end + p, der.length);
  while (p + 2 <= end) {
    const tag = der[p]!;
    const [start, len] = lengthAt(der, p + 1);
    if (start + len > end) return 'none';
    if (tag === 0xb3) {
      // [19] EXPLICIT INTEGER kex_group
      if (der[start] !== 0x02) return 'none';
      const [vs, vl] = lengthAt(der, start + 1);
      if (vl < 1 || vl > 3) return 'other';
      let code = 0;
      for (let i = vs; i < vs + vl; i++) code = code * 256 + der[i]!;
      return GROUP_NAMES.get(code) ?? 'other';
    }
    p = start + len;
  }
  return 'none';
}

/** Reads a DER length at `i`: [offset of the contents, length]. */
function lengthAt(der: Buffer, i: number): [number, number] {
  const b = der[i] ?? 0;
  if (b < 0x80) return [i + 1, b];
  const n = b & 0x7f;
  let len = 0;
  for (let k = 1; k <= n; k++) len = len * 256 + (der[i + k] ?? 0);
  return [i + 1 + n, len];
}
