/**
 * Everything derived from one config that the request path needs, built
 * once at start and on each reload (never per request): router, pools,
 * compiled policies and pre-bound metric children.
 */
import { IdentityPolicy } from '../authz/index.js';
import type { ResolvedConfig, ResolvedRoute } from '../config/index.js';
import { codeLabel, UPSTREAM_ERROR_KINDS, type Metrics, type UpstreamErrorKind } from '../metrics/index.js';
import type { IdentityHeaderOptions } from './identity-headers.js';
import { Router } from './router.js';
import { Upstream } from './upstream.js';

type CounterChild = { inc(value?: number): void };
type HistogramChild = { observe(value: number): void };

export class RouteRuntime {
  readonly route: ResolvedRoute;
  readonly upstream: Upstream;
  readonly policy: IdentityPolicy;
  readonly #metrics: Metrics;
  readonly #requests = new Map<number, CounterChild>();
  readonly ttfb: HistogramChild;
  readonly duration: HistogramChild;
  readonly denied: CounterChild;
  readonly #errors = new Map<UpstreamErrorKind, CounterChild>();

  constructor(route: ResolvedRoute, config: ResolvedConfig, metrics: Metrics) {
    this.route = route;
    this.#metrics = metrics;
    this.upstream = new Upstream(route.upstream, `routes[${route.index}].upstream`, {
      headersTimeoutMs: config.limits.upstreamTimeoutMs,
      bodyTimeoutMs: config.limits.idleTimeoutMs,
    });
    this.policy = new IdentityPolicy(route.allow, route.deny);
    const labels = { route: route.name };
    this.ttfb = metrics.upstreamTtfb.labels(labels);
    this.duration = metrics.requestDuration.labels(labels);
    this.denied = metrics.authzDenied.labels(labels);
    for (const kind of UPSTREAM_ERROR_KINDS) this.#errors.set(kind, metrics.upstreamErrors.labels({ route: route.name, kind }));
  }

  /** Counts one request with `status` (children cached per status). */
  countRequest(status: number): void {
    let c = this.#requests.get(status);
    if (c === undefined) {
      c = this.#metrics.requests.labels({ route: this.route.name, code: codeLabel(status) });
      this.#requests.set(status, c);
    }
    c.inc();
  }

  countUpstreamError(kind: UpstreamErrorKind): void {
    this.#errors.get(kind)!.inc();
  }
}

/**
 * The identity header names stripped from every request (lower case) and the
 * options that build the proxy's own identity headers, from `config`. Shared
 * by the request path and `ztproxy policy test`.
 */
export function identitySettings(config: ResolvedConfig): { names: ReadonlySet<string>; options: IdentityHeaderOptions } {
  const n = config.headerNames;
  return {
    names: new Set([n.subjectDN, n.issuerDN, n.verify, n.serial, n.fingerprint, n.cert].filter((x): x is string => x !== null)),
    options: {
      names: n,
      fingerprintAlgorithm: config.identityHeaders.fingerprintAlgorithm,
      xfcc: config.identityHeaders.xfcc,
      rfc9440: config.identityHeaders.rfc9440,
    },
  };
}

/** One generation of config, as the request path uses it. */
export class Runtime {
  static #generation = 0;
  readonly generation = ++Runtime.#generation;
  readonly config: ResolvedConfig;
  readonly router: Router;
  readonly routes: readonly RouteRuntime[];
  /** Lower-case configured identity header names (stripped from every request). */
  readonly identityNames: ReadonlySet<string>;
  readonly identityOptions: IdentityHeaderOptions;

  constructor(config: ResolvedConfig, metrics: Metrics) {
    this.config = config;
    this.router = new Router(config);
    this.routes = config.routes.map((r) => new RouteRuntime(r, config, metrics));
    ({ names: this.identityNames, options: this.identityOptions } = identitySettings(config));
    metrics.initRoutes(config.routes.map((r) => r.name));
  }

  routeRuntime(route: ResolvedRoute): RouteRuntime {
    return this.routes[route.index]!;
  }

  /** Closes the pools once their in-flight requests are done. */
  async close(): Promise<void> {
    await Promise.all(this.routes.map((r) => r.upstream.close()));
  }

  /** Destroys the pools now (the end of a drain): bounded, whatever state they are in. */
  async destroy(): Promise<void> {
    await Promise.all(this.routes.map((r) => r.upstream.destroy()));
  }
}
