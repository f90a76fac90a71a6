/**
 * Request-target normalization before routing and policy: what the proxy
 * matches is exactly what it forwards, so `/public/../admin`,
 * `/public/%2e%2e/admin`, `/%61dmin`, `//admin` and `\admin` cannot slip past
 * a rule that protects `/admin`.
 *
 * - percent-encoded unreserved characters (ALPHA DIGIT - . _ ~) are decoded
 *   (RFC 3986 §6.2.2.2); other escapes keep their bytes, hex upper-cased;
 * - `\` is read as `/` (as browsers and several frameworks do);
 * - runs of `/` collapse to one;
 * - `.` and `..` segments are removed (RFC 3986 §5.2.4); `..` above the root
 *   stays at the root.
 * Case is kept: `/ADMIN` is another path.
 * Returns null when the path is not a valid origin-form path (the caller answers 400).
 */
export function normalizePath(path: string): string | null {
  if (path.length === 0 || path.charCodeAt(0) !== 0x2f) return null;
  // Fast path: nothing to normalize.
  if (!/[%\\.]|\/\//.test(path)) return path;
  let decoded = '';
  for (let i = 0; i < path.length; i++) {
    const ch = path[i]!;
    if (ch === '%') {
      const hex = path.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return null;
      const c = parseInt(hex, 16);
      const s = String.fromCharCode(c);
      if (/[A-Za-z0-9\-._~]/.test(s)) decoded += s;
      else decoded += '%' + hex.toUpperCase();
      i += 2;
    } else if (ch === '\\') decoded += '/';
    else decoded += ch;
  }
  const segments = decoded.split('/');
  const out: string[] = [];
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i]!;
    const last = i === segments.length - 1;
    if (seg === '.' || seg === '..') {
      if (seg === '..') out.pop();
      if (last) out.push('');
      continue;
    }
    if (seg === '' && !last) continue;
    out.push(seg);
  }
  return '/' + out.join('/');
}
