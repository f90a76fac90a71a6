/**
 * Routing by Host and path prefix; first match wins.
 */
import type { ResolvedConfig, ResolvedRoute } from '../config/index.js';
import { parseAuthority } from './authority.js';
import { canonicalTarget, type EscapedSlashes } from './request-target.js';

/**
 * Where a request goes: its route, the canonical host and authority, the
 * exact path (normalized, parameters and query kept) that is forwarded and
 * the path routing and policy decided on; or why it is refused.
 */
export type TargetResult =
  | { readonly kind: 'route'; readonly route: ResolvedRoute; readonly path: string; readonly match: string; readonly host: string; readonly authority: string }
  | { readonly kind: 'bad_request'; readonly reason: string }
  | { readonly kind: 'misdirected' }
  | { readonly kind: 'none' };

export type RouteResult =
  | { readonly kind: 'route'; readonly route: ResolvedRoute }
  | { readonly kind: 'misdirected' }
  | { readonly kind: 'none' };

/** Lower-case host of a Host header without port; '' when absent or malformed. */
export function hostOf(hostHeader: string | undefined): string {
  if (!hostHeader) return '';
  let h = hostHeader.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end > 0 ? h.slice(0, end + 1) : '';
  }
  const colon = h.indexOf(':');
  if (colon >= 0) h = h.slice(0, colon);
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

/**
 * True when `path` is under `prefix` on a segment boundary (`/api` matches
 * `/api` and `/api/x`, not `/apix`), ASCII letters compared without case:
 * Express (and other routers whose default is case-insensitive) serves
 * `/ADMIN` from its `/admin` mount, so the rule for `/admin` must hold
 * `/ADMIN` too. For a case-sensitive upstream this only puts a path that
 * differs in case under the stricter route.
 */
export function underPrefix(path: string, prefix: string): boolean {
  if (prefix === '/') return true;
  if (path.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) {
    const a = path.charCodeAt(i);
    const b = prefix.charCodeAt(i);
    if (a !== b && ((a | 0x20) !== (b | 0x20) || (a | 0x20) < 0x61 || (a | 0x20) > 0x7a)) return false;
  }
  if (path.length === prefix.length || prefix.endsWith('/')) return true;
  const next = path.charCodeAt(prefix.length);
  return next === 0x2f /* / */ || next === 0x3f; /* ? */
}

/** Routes requests of one config. */
export class Router {
  readonly #routes: readonly ResolvedRoute[];
  readonly #hosts: ReadonlySet<string>;
  readonly #escapedSlashes: EscapedSlashes;

  constructor(config: ResolvedConfig) {
    this.#routes = config.routes;
    this.#hosts = config.hosts;
    this.#escapedSlashes = config.paths.escapedSlashes;
  }

  /**
   * The route for `host` (from the Host header) and the normalized `path`.
   * `sni` is the TLS server name of the connection: when it and the Host
   * both name configured hosts and differ, the answer is `misdirected` (421),
   * so a connection accepted for one virtual host never reaches another.
   */
  match(host: string, path: string, sni: string): RouteResult {
    if (sni !== '' && sni !== host && this.#hosts.has(sni) && this.#hosts.has(host)) return { kind: 'misdirected' };
    for (const route of this.#routes) {
      if (route.host !== undefined && route.host !== host) continue;
      if (underPrefix(path, route.pathPrefix)) return { kind: 'route', route };
    }
    return { kind: 'none' };
  }

  /**
   * Decides a request from its raw authority (Host, or HTTP/2 `:authority`)
   * and raw request target (origin-form `/path?query`, or absolute-form
   * `https://host/path` naming the same host): the authority is validated
   * (see parseAuthority), the target made canonical (see canonicalTarget),
   * then routed on the canonical host and match path. The live request path
   * and `ztproxy policy test` both decide through here, so they cannot
   * disagree.
   */
  resolve(rawAuthority: string | undefined, target: string, sni: string): TargetResult {
    const authority = parseAuthority(rawAuthority);
    if (authority === null) return { kind: 'bad_request', reason: 'missing or malformed Host' };
    let originForm = target;
    if (target.charCodeAt(0) !== 0x2f) {
      // absolute-form (RFC 9112 §3.2.2): accepted only when it names the Host the request carries
      const m = /^https?:\/\/([^/?#]*)(.*)$/is.exec(target);
      const named = m === null ? null : parseAuthority(m[1]);
      if (m === null || named === null || named.host !== authority.host) {
        return { kind: 'bad_request', reason: 'request target must be origin-form, or absolute-form naming the Host' };
      }
      originForm = m[2] === '' ? '/' : m[2]!.charCodeAt(0) === 0x3f ? '/' + m[2]! : m[2]!;
    }
    const c = canonicalTarget(originForm, this.#escapedSlashes);
    if (!c.ok) return { kind: 'bad_request', reason: c.reason };
    const m = this.match(authority.host, c.match, sni);
    if (m.kind !== 'route') return m;
    return { kind: 'route', route: m.route, path: c.forward, match: c.match, host: authority.host, authority: authority.value };
  }
}
