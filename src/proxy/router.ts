/**
 * Routing by Host and path prefix; first match wins.
 */
import type { ResolvedConfig, ResolvedRoute } from '../config/index.js';
import { normalizePath } from './normalize-path.js';

/** Where a request target goes: its route and the exact path (normalized, query kept) that is forwarded. */
export type TargetResult =
  | { readonly kind: 'route'; readonly route: ResolvedRoute; readonly path: string }
  | { readonly kind: 'bad_path' }
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

/** True when `path` is under `prefix` on a segment boundary (`/api` matches `/api` and `/api/x`, not `/apix`). */
export function underPrefix(path: string, prefix: string): boolean {
  if (prefix === '/') return true;
  if (!path.startsWith(prefix)) return false;
  if (path.length === prefix.length || prefix.endsWith('/')) return true;
  const next = path.charCodeAt(prefix.length);
  return next === 0x2f /* / */ || next === 0x3f; /* ? */
}

/** Routes requests of one config. */
export class Router {
  readonly #routes: readonly ResolvedRoute[];
  readonly #hosts: ReadonlySet<string>;

  constructor(config: ResolvedConfig) {
    this.#routes = config.routes;
    this.#hosts = config.hosts;
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
   * Routes an origin-form target (`/path?query`) the way the proxy forwards it:
   * the path is normalized first (see normalizePath), routing and policy see
   * the normalized path, and exactly that path (with the query) goes upstream.
   * The live request path and `ztproxy policy test` both decide through here.
   */
  resolve(host: string, target: string, sni: string): TargetResult {
    const q = target.indexOf('?');
    const normalized = normalizePath(q < 0 ? target : target.slice(0, q));
    if (normalized === null) return { kind: 'bad_path' };
    const m = this.match(host, normalized, sni);
    if (m.kind !== 'route') return m;
    return { kind: 'route', route: m.route, path: q < 0 ? normalized : normalized + target.slice(q) };
  }
}
