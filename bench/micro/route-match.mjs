// Per-request routing (src/proxy/router.ts hostOf + Router.match after src/proxy/normalize-path.ts
// normalizePath), as RequestHandler runs it. The Router gets the two fields it reads from a resolved
// config (routes in order, the set of configured hosts), here 8 routes over 3 virtual hosts with the
// match near the end, and one catch-all, so first-match-wins has to walk. Paths: the bench's "/", a
// typical API path, and one that takes normalizePath's slow path (dot segments, %-escapes).
import { normalizePath } from '../../dist/proxy/normalize-path.js';
import { hostOf, Router } from '../../dist/proxy/router.js';
import { bench, consume } from './harness.mjs';

const spec = [
  ['admin', 'admin.internal', '/'],
  ['billing', 'api.internal', '/billing'],
  ['users', 'api.internal', '/users'],
  ['orders', 'api.internal', '/orders'],
  ['static', 'www.internal', '/static/'],
  ['www', 'www.internal', '/'],
  ['v2', 'api.internal', '/v2/items'],
  ['catch-all', undefined, '/'],
];
const routes = spec.map(([name, host, pathPrefix], index) => ({ index, name, host, pathPrefix }));
const router = new Router({ routes, hosts: new Set(routes.flatMap((r) => (r.host ? [r.host] : []))) });
const one = new Router({ routes: [{ index: 0, name: 'bench', host: undefined, pathPrefix: '/' }], hosts: new Set() });

function route(r, hostHeader, url, sni) {
  const host = hostOf(hostHeader);
  const q = url.indexOf('?');
  const p = normalizePath(q < 0 ? url : url.slice(0, q));
  return r.match(host, p, sni);
}

const check = route(router, 'api.internal:8443', '/v2/items/42?x=1', 'api.internal');
if (check.kind !== 'route' || check.route.name !== 'v2') throw new Error(`unexpected match ${JSON.stringify(check)}`);
bench('normalizePath "/" (fast path)', () => consume(normalizePath('/')));
bench('normalizePath "/v2/items/42" (fast path)', () => consume(normalizePath('/v2/items/42')));
bench('normalizePath "/public/%2e%2e/v2/./items/%7E42"', () => consume(normalizePath('/public/%2e%2e/v2/./items/%7E42')));
bench('hostOf + normalizePath + match, 1 route (the bench)', () => consume(route(one, '127.0.0.1:8443', '/', '').kind));
bench('hostOf + normalizePath + match, 8 routes, 7th', () => consume(route(router, 'api.internal:8443', '/v2/items/42?x=1', 'api.internal').kind));
bench('hostOf + normalizePath + match, 8 routes, catch-all', () => consume(route(router, 'other.internal', '/x', '').kind));
