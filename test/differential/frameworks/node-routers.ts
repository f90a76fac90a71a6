/**
 * Upstream frameworks (a) and (d) of the differential test: how Node
 * applications pick a route for the request line and Host they receive, each
 * written the way such an application really routes, on the same route set
 * as the proxy (`vhost-admin` for the host admin.internal, `admin` for /admin
 * and below, `public` for the rest). A router that throws (a malformed URL,
 * an undecodable escape) answers 400: it serves nothing, reported `refused`.
 *
 * - whatwg: `new URL(req.url, 'http://' + req.headers.host)`, routing on
 *   `url.hostname` and the raw `url.pathname` (the most common shape today);
 * - whatwg-decoded: the same, on `decodeURIComponent(url.pathname)` (apps
 *   that decode before comparing, as most hand-written routers do);
 * - url-parse: legacy `url.parse(req.url)` for the path and
 *   `url.parse('http://' + host).hostname` for the virtual host;
 * - url-parse-decoded: the same, decoded;
 * - express: Express 4 as shipped — the pathname of `parseurl` (its fast path,
 *   falling back to `url.parse` when the target has `#`, whitespace, U+00A0
 *   or U+FEFF), matched by the regular expression path-to-regexp 0.1 builds
 *   for `app.use('/admin', …)`: `^\/admin\/?(?=\/|$)` CASE-INSENSITIVE (the
 *   default `caseSensitive: false`); the virtual host as the `vhost`
 *   middleware matches it (Host up to the port, `^admin\.internal$`/i);
 * - servlet: a Tomcat-style container — `;parameters` removed from every
 *   segment of the raw target, then %XX decoded as UTF-8 (`%2F` and `%5C`
 *   included: the permissive `encodedSolidusHandling=decode`, the stronger
 *   test), `\` read as `/` (ALLOW_BACKSLASH), `//` collapsed, dot-segments
 *   resolved (`..` above the root and a NUL are 400), then the `/admin/*`
 *   mapping; the host lower-cased up to the port.
 */
import { parse as legacyParse } from 'node:url';

export type FrameworkRoute = 'vhost-admin' | 'admin' | 'public' | 'refused' | 'redirect';

const ADMIN_HOST = 'admin.internal';

/** `/admin` and what is under it, on a segment boundary, case-sensitive. */
function pathRoute(path: string): 'admin' | 'public' {
  return path === '/admin' || path.startsWith('/admin/') ? 'admin' : 'public';
}

function whatwg(target: string, host: string | undefined, decode: boolean): FrameworkRoute {
  const u = new URL(target, 'http://' + (host ?? ''));
  if (u.hostname === ADMIN_HOST) return 'vhost-admin';
  return pathRoute(decode ? decodeURIComponent(u.pathname) : u.pathname);
}

function urlParse(target: string, host: string | undefined, decode: boolean): FrameworkRoute {
  if (legacyParse('http://' + (host ?? '')).hostname === ADMIN_HOST) return 'vhost-admin';
  const p = legacyParse(target).pathname ?? '';
  return pathRoute(decode ? decodeURIComponent(p) : p);
}

/** pillarjs/parseurl's pathname: its fast path, or url.parse when the target needs the full parser. */
function parseurlPathname(str: string): string {
  if (str.charCodeAt(0) !== 0x2f) return legacyParse(str).pathname ?? '';
  let pathname = str;
  for (let i = 1; i < str.length; i++) {
    switch (str.charCodeAt(i)) {
      case 0x3f:
        if (pathname === str) pathname = str.substring(0, i);
        break;
      case 0x09:
      case 0x0a:
      case 0x0c:
      case 0x0d:
      case 0x20:
      case 0x23:
      case 0xa0:
      case 0xfeff:
        return legacyParse(str).pathname ?? '';
    }
  }
  return pathname;
}

/** The regular expressions Express 4 builds: `app.use('/admin')` and `vhost('admin.internal')`. */
const EXPRESS_ADMIN = /^\/admin\/?(?=\/|$)/i;
const EXPRESS_VHOST = /^admin\.internal$/i;

function express(target: string, host: string | undefined): FrameworkRoute {
  if (host !== undefined) {
    const offset = host[0] === '[' ? host.indexOf(']') + 1 : 0;
    const colon = host.indexOf(':', offset);
    if (EXPRESS_VHOST.test(colon !== -1 ? host.substring(0, colon) : host)) return 'vhost-admin';
  }
  return EXPRESS_ADMIN.test(parseurlPathname(target)) ? 'admin' : 'public';
}

/** Tomcat's order: path parameters off the raw URI, decode, normalize, map. */
function servlet(target: string, host: string | undefined): FrameworkRoute {
  let h = (host ?? '').toLowerCase();
  if (!h.startsWith('[')) h = h.split(':')[0]!;
  if (h === ADMIN_HOST) return 'vhost-admin';
  const end = target.search(/[?#]/);
  const raw = end < 0 ? target : target.slice(0, end);
  if (!raw.startsWith('/')) return 'refused';
  const noParams = raw.replace(/;[^/]*/g, '');
  const decoded = Buffer.from(
    noParams.replace(/%([0-9a-fA-F]{2})|%/g, (m, hex: string | undefined) => {
      if (hex === undefined) throw new Error('bad escape');
      return String.fromCharCode(parseInt(hex, 16));
    }),
    'latin1',
  );
  const text = new TextDecoder('utf-8', { fatal: true }).decode(decoded);
  if (text.includes('\0')) return 'refused';
  const out: string[] = [];
  const segments = text.replace(/\\/g, '/').split('/');
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i]!;
    const last = i === segments.length - 1;
    if (seg === '..') {
      if (out.length === 0) return 'refused';
      out.pop();
      if (last) out.push('');
    } else if (seg === '.') {
      if (last) out.push('');
    } else if (seg !== '' || last) out.push(seg);
  }
  return pathRoute('/' + out.join('/'));
}

export const NODE_ROUTERS = {
  whatwg: (target: string, host: string | undefined) => whatwg(target, host, false),
  'whatwg-decoded': (target: string, host: string | undefined) => whatwg(target, host, true),
  'url-parse': (target: string, host: string | undefined) => urlParse(target, host, false),
  'url-parse-decoded': (target: string, host: string | undefined) => urlParse(target, host, true),
  express,
  servlet,
} as const satisfies Record<string, (target: string, host: string | undefined) => FrameworkRoute>;

/** Every Node router's route for one received request line and Host; `refused` where it throws. */
export function nodeRoutes(target: string, host: string | undefined): Record<string, FrameworkRoute> {
  const out: Record<string, FrameworkRoute> = {};
  for (const [name, router] of Object.entries(NODE_ROUTERS)) {
    try {
      out[name] = router(target, host);
    } catch {
      out[name] = 'refused';
    }
  }
  return out;
}
