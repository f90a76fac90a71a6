/**
 * TLS key-exchange groups: the default preference (hybrid post-quantum
 * first where this runtime's OpenSSL offers it), the check of `tls.groups`,
 * and which group a server-side connection used.
 *
 * What OpenSSL offers is found by asking it (`tls.createSecureContext` with
 * that `ecdhCurve`), never from a list of versions: Node 20 bundles OpenSSL
 * 3.0 (no ML-KEM), Node 24 bundles 3.5 (X25519MLKEM768), and a Node built
 * against a system OpenSSL may differ from both.
 */
import tls from 'node:tls';

/**
 * Preferred order when `tls.groups` is not set: X25519MLKEM768 (hybrid
 * X25519 + ML-KEM-768, what current Chrome, Firefox and OpenSSL 3.5 clients
 * send first), then X25519, P-256, P-384. Groups this runtime lacks are left
 * out silently.
 */
export const DEFAULT_GROUPS: readonly string[] = ['X25519MLKEM768', 'X25519', 'P-256', 'P-384'];

const offered = new Map<string, boolean>();

/** Whether this runtime's OpenSSL accepts `group` as a key-exchange group (asked once per name). */
export function groupOffered(group: string): boolean {
  let ok = offered.get(group);
  if (ok === undefined) {
    ok = tryEcdhCurve(group);
    offered.set(group, ok);
  }
  return ok;
}

/** Whether OpenSSL takes `list` as the groups of a context. */
function tryEcdhCurve(list: string): boolean {
  try {
    tls.createSecureContext({ ecdhCurve: list });
    return true;
  } catch {
    // Node 20 leaves OpenSSL's error on the thread's error queue when it refuses a curve list, and the next
    // call that looks at the queue fails for it (webcrypto's importKey throws DataError). Creating a context
    // clears the queue.
    tls.createSecureContext();
    return false;
  }
}

/**
 * Problems of a configured `tls.groups` list, as `[index, message]` pairs
 * (an empty array when OpenSSL takes the list as it is).
 */
export function groupProblems(groups: readonly string[]): [number | null, string][] {
  const out: [number | null, string][] = [];
  const seen = new Set<string>();
  groups.forEach((g, i) => {
    // OpenSSL 3.0 refuses a group listed twice and 3.5 takes it: refuse it on both.
    if (seen.has(g.toLowerCase())) out.push([i, `group ${JSON.stringify(g)} is listed twice`]);
    seen.add(g.toLowerCase());
    if (!groupOffered(g)) out.push([i, `unknown group ${JSON.stringify(g)} (not offered by OpenSSL ${process.versions.openssl} of Node ${process.version})`]);
  });
  if (out.length === 0 && groups.length > 0) {
    if (!tryEcdhCurve(groups.join(':'))) {
      out.push([null, `OpenSSL ${process.versions.openssl} refuses the list ${JSON.stringify(groups.join(':'))}`]);
    }
  }
  return out;
}

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
