/**
 * Every metric ztproxy exports. The names and labels are an interface: the
 * Grafana dashboard and the alert rules in config/ use them. Never rename.
 *
 * The registry is injected (tests get isolated registries). Label values come
 * from config (route names) or closed enums, never from client input; series
 * of configured routes are created at zero so that panels are never empty.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { CONNECTION_REVOKED_REASONS, HANDSHAKE_ABORT_REASONS, HANDSHAKE_FAILURE_REASONS } from '../tls/index.js';
import { RouteHistogram } from './route-histogram.js';

// The handshake and revocation reasons are the TLS layer's words; the metrics label with them.
export { CONNECTION_REVOKED_REASONS, HANDSHAKE_ABORT_REASONS, HANDSHAKE_FAILURE_REASONS, type ConnectionRevokedReason, type HandshakeAbortReason, type HandshakeFailureReason } from '../tls/index.js';

/** Kinds of upstream errors, as the `kind` label of `ztproxy_upstream_errors_total`. */
export const UPSTREAM_ERROR_KINDS = ['connect', 'timeout', 'tls', 'reset', 'other'] as const;
export type UpstreamErrorKind = (typeof UPSTREAM_ERROR_KINDS)[number];

/** Why ztproxy cut an HTTP/2 session off, as the `reason` label of `ztproxy_http2_sessions_cut_total`. */
export const HTTP2_CUT_REASONS = ['rapid_reset', 'protocol_error'] as const;
export type Http2CutReason = (typeof HTTP2_CUT_REASONS)[number];

/**
 * Why ztproxy refused or cut a request to protect its upstreams, as the
 * `reason` label of `ztproxy_requests_refused_total`: `identity_limit` (429,
 * limits.maxConcurrentPerIdentity), `queue_timeout` (503,
 * limits.upstreamQueueTimeoutMs), `body_timeout` (408, limits.bodyTimeoutMs),
 * `send_timeout` (client disconnected, limits.sendTimeoutMs),
 * `body_incomplete` (the client's body did not arrive whole: upstream aborted).
 */
export const REFUSED_REASONS = ['identity_limit', 'queue_timeout', 'body_timeout', 'send_timeout', 'body_incomplete'] as const;
export type RefusedReason = (typeof REFUSED_REASONS)[number];

/** Status codes that get their own `code` label value; anything else is `other`. */
const KNOWN_CODES = new Set([
  100, 101, 200, 201, 202, 204, 206, 301, 302, 303, 304, 307, 308, 400, 401, 403, 404, 405, 408, 409, 410, 411, 413,
  414, 415, 421, 422, 429, 431, 499, 500, 501, 502, 503, 504,
]);

const HANDSHAKE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The label value for an HTTP status: the code itself when it is a known one, else `other`. */
export function codeLabel(status: number): string {
  return KNOWN_CODES.has(status) ? String(status) : 'other';
}

/** The metric objects of one process. */
export interface Metrics {
  readonly registry: Registry;
  readonly handshakes: Counter<'result' | 'reason'>;
  readonly handshakeDuration: RouteHistogram<'result'>;
  readonly requests: Counter<'route' | 'code'>;
  readonly upstreamTtfb: RouteHistogram<'route'>;
  readonly requestDuration: RouteHistogram<'route'>;
  readonly connectionsActive: Gauge;
  readonly authzDenied: Counter<'route'>;
  readonly upstreamErrors: Counter<'route' | 'kind'>;
  readonly certificateExpiry: Gauge<'cert'>;
  readonly configReloads: Counter<'result'>;
  readonly http2SessionsCut: Counter<'reason'>;
  readonly requestsRefused: Counter<'reason'>;
  readonly connectionsRevoked: Counter<'reason'>;
  /** Creates the zero series of every configured route (call at start and after each reload). */
  initRoutes(routeNames: readonly string[]): void;
}

/**
 * Registers every ztproxy metric on `registry`. Handshake and reload series
 * of every closed-enum value start at zero.
 */
export function createMetrics(registry: Registry): Metrics {
  const registers = [registry];
  const handshakes = new Counter({
    name: 'ztproxy_tls_handshakes_total',
    help: 'TLS handshakes on the mTLS listener by result (ok, failed, aborted), and reason for failed and aborted ones',
    labelNames: ['result', 'reason'] as const,
    registers,
  });
  // Observed on every handshake: a RouteHistogram (prom-client's observe validates and hashes the labels each time).
  const handshakeDuration = new RouteHistogram({
    name: 'ztproxy_tls_handshake_duration_seconds',
    help: 'Time from TCP accept to the end of the TLS handshake',
    labelNames: ['result'] as const,
    buckets: HANDSHAKE_BUCKETS,
    registers,
  });
  const requests = new Counter({
    name: 'ztproxy_http_requests_total',
    help: 'HTTP requests by route and status code',
    labelNames: ['route', 'code'] as const,
    registers,
  });
  // Observed on every request: a RouteHistogram, whose children need no label lookup per observation.
  const upstreamTtfb = new RouteHistogram({
    name: 'ztproxy_upstream_ttfb_seconds',
    help: 'Time from sending the request upstream to the first byte of the upstream response',
    labelNames: ['route'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const requestDuration = new RouteHistogram({
    name: 'ztproxy_http_request_duration_seconds',
    help: 'Time from request headers received to response end',
    labelNames: ['route'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const connectionsActive = new Gauge({
    name: 'ztproxy_connections_active',
    help: 'Open client connections (TLS established)',
    registers,
  });
  const authzDenied = new Counter({
    name: 'ztproxy_authz_denied_total',
    help: 'Requests refused by the identity policy of a route',
    labelNames: ['route'] as const,
    registers,
  });
  const upstreamErrors = new Counter({
    name: 'ztproxy_upstream_errors_total',
    help: 'Failed upstream requests by route and kind',
    labelNames: ['route', 'kind'] as const,
    registers,
  });
  const certificateExpiry = new Gauge({
    name: 'ztproxy_certificate_expiry_timestamp_seconds',
    help: 'Not-after of the server certificate and the client CA, and next update of the CRL (unix seconds)',
    labelNames: ['cert'] as const,
    registers,
    // Under node:cluster the aggregator must not sum timestamps of workers.
    aggregator: 'min',
  });
  const configReloads = new Counter({
    name: 'ztproxy_config_reloads_total',
    help: 'Configuration reloads by result',
    labelNames: ['result'] as const,
    registers,
  });

  const http2SessionsCut = new Counter({
    name: 'ztproxy_http2_sessions_cut_total',
    help: 'HTTP/2 sessions closed by ztproxy for abuse (rapid reset) or protocol errors',
    labelNames: ['reason'] as const,
    registers,
  });

  const requestsRefused = new Counter({
    name: 'ztproxy_requests_refused_total',
    help: 'Requests refused or cut off to protect the upstreams, by reason (per-identity cap, queue timeout, body and send timeouts, incomplete body)',
    labelNames: ['reason'] as const,
    registers,
  });

  const connectionsRevoked = new Counter({
    name: 'ztproxy_connections_revoked_total',
    help: 'Established client connections closed after a reload because their certificate no longer verifies, by reason',
    labelNames: ['reason'] as const,
    registers,
  });

  handshakes.inc({ result: 'ok', reason: '' }, 0);
  for (const reason of REFUSED_REASONS) requestsRefused.inc({ reason }, 0);
  for (const reason of CONNECTION_REVOKED_REASONS) connectionsRevoked.inc({ reason }, 0);
  for (const reason of HTTP2_CUT_REASONS) http2SessionsCut.inc({ reason }, 0);
  for (const reason of HANDSHAKE_FAILURE_REASONS) handshakes.inc({ result: 'failed', reason }, 0);
  for (const reason of HANDSHAKE_ABORT_REASONS) handshakes.inc({ result: 'aborted', reason }, 0);
  handshakeDuration.labels({ result: 'ok' });
  handshakeDuration.labels({ result: 'failed' });
  handshakeDuration.labels({ result: 'aborted' });
  configReloads.inc({ result: 'ok' }, 0);
  configReloads.inc({ result: 'failed' }, 0);
  connectionsActive.set(0);

  return {
    registry,
    handshakes,
    handshakeDuration,
    requests,
    upstreamTtfb,
    requestDuration,
    connectionsActive,
    authzDenied,
    upstreamErrors,
    certificateExpiry,
    configReloads,
    http2SessionsCut,
    requestsRefused,
    connectionsRevoked,
    initRoutes(routeNames) {
      for (const route of routeNames) {
        requests.inc({ route, code: '200' }, 0);
        upstreamTtfb.labels({ route }); // creates the series at zero; an existing one keeps its counts across reloads
        requestDuration.labels({ route });
        authzDenied.inc({ route }, 0);
        for (const kind of UPSTREAM_ERROR_KINDS) upstreamErrors.inc({ route, kind }, 0);
      }
    },
  };
}
