/**
 * The one canonical request target: the path routing and policy decide on,
 * and the path that is forwarded, computed once per request from the raw
 * origin-form target (`/path?query`).
 *
 * The promise: the path ztproxy matches is the path mainstream upstreams
 * route on (WHATWG URL and `url.parse`, WSGI's decoded `PATH_INFO`, Go's
 * `ServeMux`, servlet containers that drop `;parameters`), or the request
 * is refused. Ambiguous spellings are refused rather than guessed:
 *
 * - `#` anywhere (a fragment is never part of a request target, RFC 9112
 *   §3.2; WHATWG URL, `url.parse` and gunicorn cut the path there);
 * - bytes outside visible ASCII in the path, control bytes or space anywhere;
 * - malformed `%XX`, encoded control bytes (`%00`–`%1F`, `%7F`) and overlong
 *   UTF-8 (`%C0%AF` is `/` to a decoder that does not check);
 * - `%2F` / `%5C` (encoded `/` and `\`): with `escapedSlashes: reject` (the
 *   default) always; with `decode`, only when a `.` or `..` hides behind one
 *   or the segment also carries `;parameters`;
 * - a dot-segment with parameters (`..;x`, `.;`, `%2e%2e;`): a servlet
 *   container resolves it as `..` once the parameters are gone.
 *
 * Everything else is normalized (see normalizePath): unreserved `%XX`
 * decoded, `\` read as `/`, `//` collapsed, dot-segments resolved. That
 * normalized path, parameters and escaped slashes kept, is what goes
 * upstream. What routing and policy see (`match`) is derived from it: each
 * segment without its `;…` parameters (as servlet containers route), and
 * with `decode` the escaped slashes as segment separators (as WSGI and
 * nginx's location matching see them), empty segments collapsed. An upstream
 * that routes on the raw segment instead (`/admin;x` as its own resource)
 * is held to a policy chosen for a path at least as specific.
 */
import { normalizePath } from './normalize-path.js';

/** What `paths.escapedSlashes` allows. */
export type EscapedSlashes = 'reject' | 'decode';

export type CanonicalTarget =
  | {
      readonly ok: true;
      /** Normalized path plus the query as received: forwarded upstream. */
      readonly forward: string;
      /** The path routing and policy decide on (no query, no parameters). */
      readonly match: string;
    }
  | { readonly ok: false; readonly reason: string };

const bad = (reason: string): CanonicalTarget => ({ ok: false, reason });

/** Hex value of `%XX` at `i` of `s`, or -1 when malformed. */
function hexAt(s: string, i: number): number {
  const h = s.slice(i + 1, i + 3);
  return /^[0-9a-fA-F]{2}$/.test(h) ? parseInt(h, 16) : -1;
}

/**
 * Checks the raw path's characters and escapes: the refusal reason (or
 * null), and whether an escaped slash was seen (only possible in `decode`).
 */
function checkPath(path: string, mode: EscapedSlashes): { reason: string | null; escapedSlash: boolean } {
  let escapedSlash = false;
  let prev = -1; // previous decoded byte, for overlong UTF-8
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x23) return { reason: 'fragment (#) in request target', escapedSlash };
    if (c <= 0x20 || c >= 0x7f) return { reason: 'control, space or non-ASCII byte in path', escapedSlash };
    if (c !== 0x25) {
      prev = -1;
      continue;
    }
    const b = hexAt(path, i);
    if (b < 0) return { reason: 'malformed percent-encoding in path', escapedSlash };
    if (b < 0x20 || b === 0x7f) return { reason: 'encoded control byte in path', escapedSlash };
    // Overlong UTF-8: C0/C1 never start a valid sequence; E0 80–9F and F0 80–8F are overlong 3- and 4-byte forms.
    if (b === 0xc0 || b === 0xc1 || (prev === 0xe0 && b < 0xa0 && b >= 0x80) || (prev === 0xf0 && b < 0x90 && b >= 0x80)) {
      return { reason: 'overlong UTF-8 in path', escapedSlash };
    }
    if (b === 0x2f || b === 0x5c) {
      if (mode === 'reject') return { reason: 'encoded slash or backslash (%2F, %5C) in path', escapedSlash };
      escapedSlash = true;
    }
    prev = b;
    i += 2;
  }
  return { reason: null, escapedSlash };
}

const isDot = (s: string): boolean => s === '.' || s === '..';

/**
 * The canonical form of an origin-form target, or the reason it is refused
 * (the caller answers 400). Pure; never throws.
 */
export function canonicalTarget(target: string, mode: EscapedSlashes = 'reject'): CanonicalTarget {
  const q = target.indexOf('?');
  const rawPath = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : target.slice(q);
  for (let i = 0; i < query.length; i++) {
    const c = query.charCodeAt(i);
    if (c === 0x23) return bad('fragment (#) in request target');
    if (c <= 0x20 || c === 0x7f || c > 0xff) return bad('control or space byte in query');
  }
  if (rawPath.length === 0 || rawPath.charCodeAt(0) !== 0x2f) return bad('request target must start with /');
  const check = checkPath(rawPath, mode);
  if (check.reason !== null) return bad(check.reason);
  const path = normalizePath(rawPath);
  if (path === null) return bad('malformed path');
  // Common case: no parameters, no escaped slash: normalization already made the match path.
  if (!check.escapedSlash && path.indexOf(';') < 0) return { ok: true, forward: path + query, match: path };
  const segments = path.split('/');
  const match: string[] = [''];
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i]!;
    const semi = seg.indexOf(';');
    const bare = semi < 0 ? seg : seg.slice(0, semi);
    if (semi >= 0 && isDot(bare)) return bad('dot-segment with ;parameters in path');
    if (!check.escapedSlash || !/%(?:2F|5C)/.test(seg)) {
      if (bare !== '' || i === segments.length - 1) match.push(bare);
      continue;
    }
    // `/admin;x%2F..%2Fpublic`: a servlet container sees /admin, a decoding router /admin;x/../public. Refuse the mix.
    if (semi >= 0) return bad('encoded slash and ;parameters in one path segment');
    const pieces = bare.split(/%(?:2F|5C)/);
    if (pieces.some(isDot)) return bad('dot-segment behind an encoded slash in path');
    for (let k = 0; k < pieces.length; k++) if (pieces[k] !== '' || (i === segments.length - 1 && k === pieces.length - 1)) match.push(pieces[k]!);
  }
  return { ok: true, forward: path + query, match: match.length === 1 ? '/' : match.join('/') };
}
