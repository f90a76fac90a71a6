/**
 * The config schema: the single source of truth for keys, types and
 * defaults. The TypeScript types are derived from it (`Static`), never
 * written twice. Every object rejects unknown keys: a typo must never
 * silently switch a security control off.
 */
import { Type as T, type Static } from '@sinclair/typebox';

const strict = { additionalProperties: false } as const;
const Str = (description: string, extra: object = {}) => T.String({ minLength: 1, description, ...extra });
const Ms = (def: number, description: string) => T.Integer({ minimum: 1, maximum: 86_400_000, default: def, description });
const StrList = (description: string) => T.Array(T.String({ minLength: 1 }), { description });
const HeaderName = T.String({ pattern: '^[!#$%&\'*+.^_`|~0-9A-Za-z-]+$', description: 'an HTTP header name' });

/** The header an optional identity header (`identityHeaders.issuerDN` and its siblings) names when set to `true`. */
export const IDENTITY_HEADER_WHEN_TRUE = {
  issuerDN: 'X-Client-Issuer-DN',
  verify: 'X-Client-Verify',
  serial: 'X-Client-Serial',
  fingerprint: 'X-Client-Fingerprint',
  cert: 'X-Client-Cert',
} as const;
const OptionalHeader = (key: keyof typeof IDENTITY_HEADER_WHEN_TRUE) =>
  T.Union([HeaderName, T.Boolean()], {
    default: false,
    description: `header name, true for ${IDENTITY_HEADER_WHEN_TRUE[key]}, or false to switch off`,
  });

/**
 * Key-exchange groups in order of preference when `tls.groups` is not set,
 * minus what this runtime's OpenSSL lacks: X25519MLKEM768 (hybrid X25519 +
 * ML-KEM-768, what current Chrome, Firefox and OpenSSL 3.5 clients send
 * first), then X25519, P-256, P-384.
 */
export const DEFAULT_GROUPS: readonly string[] = ['X25519MLKEM768', 'X25519', 'P-256', 'P-384'];

/** Identity rules of a route: values match exactly, `*` matches one DNS label or one path segment. */
export const IdentityRuleSchema = T.Object(
  {
    cn: T.Optional(StrList('subject CN values')),
    ou: T.Optional(StrList('subject OU values')),
    o: T.Optional(StrList('subject O values')),
    dns: T.Optional(StrList('SAN DNS names')),
    uri: T.Optional(StrList('SAN URIs, e.g. SPIFFE IDs')),
    email: T.Optional(StrList('SAN email addresses')),
    issuer: T.Optional(StrList('issuer DNs (RFC 2253, as X-Client-Issuer-DN prints them)')),
    serial: T.Optional(StrList('serials, hex')),
  },
  strict,
);

export const UpstreamObjectSchema = T.Object(
  {
    url: T.Optional(Str('one upstream base URL, http:// or https://')),
    urls: T.Optional(T.Array(Str('an upstream base URL'), { minItems: 1 })),
    ca: T.Optional(Str('CA bundle that verifies an https upstream (default: the system roots)')),
    cert: T.Optional(Str('client certificate ztproxy presents to the upstream (mTLS)')),
    key: T.Optional(Str('key of upstream.cert')),
    servername: T.Optional(Str('SNI and name to verify on the upstream certificate (default: the URL host)')),
    // TypeBox fills these defaults inside the union once the object branch checks; load.ts fills them for the
    // string form from this same schema.
    insecurePlaintext: T.Optional(T.Boolean({ default: false, description: 'allow http:// to a non-loopback address' })),
    connections: T.Optional(T.Integer({ minimum: 1, maximum: 10_000, default: 128, description: 'pooled connections per address' })),
  },
  strict,
);

export const RouteSchema = T.Object(
  {
    name: T.String({ pattern: '^[a-zA-Z0-9_.-]{1,64}$', description: 'route name, used as the metrics label' }),
    host: T.Optional(Str('Host/SNI name this route serves (default: any host)')),
    pathPrefix: T.String({ pattern: '^/', default: '/', description: 'path prefix' }),
    upstream: T.Union([Str('upstream URL'), UpstreamObjectSchema], { description: 'upstream URL or object' }),
    allow: T.Optional(IdentityRuleSchema),
    deny: T.Optional(IdentityRuleSchema),
  },
  strict,
);

export const ConfigSchema = T.Object(
  {
    listen: T.String({ minLength: 3, default: '0.0.0.0:8443', description: 'HOST:PORT of the mTLS listener' }),
    workers: T.Union([T.Literal('auto'), T.Integer({ minimum: 1, maximum: 512 })], {
      default: 'auto',
      description: '"auto" (one per core) or a number (the quick-start flags set 1)',
    }),
    tls: T.Object(
      {
        cert: Str('server certificate: leaf then chain, PEM'),
        key: Str('server private key, PEM'),
        clientCA: Str('trusted client CAs, PEM bundle (several CAs allowed)'),
        crl: T.Optional(Str('CRL file, PEM (one or several CRLs)')),
        minVersion: T.Union([T.Literal('TLSv1.2'), T.Literal('TLSv1.3')], { default: 'TLSv1.2', description: 'lowest TLS version (TLSv1.3 under profile modern)' }),
        /**
         * Mozilla's server-side TLS configurations (default intermediate): `intermediate` offers
         * TLS 1.2 with ECDHE and AES-GCM or ChaCha20-Poly1305 only, and TLS 1.3 as OpenSSL offers
         * it; `modern` is TLS 1.3 only.
         */
        profile: T.Union([T.Literal('intermediate'), T.Literal('modern')], {
          default: 'intermediate',
          description: 'intermediate (TLS 1.2 ECDHE+AEAD suites and TLS 1.3) or modern (TLS 1.3 only)',
        }),
        /**
         * OpenSSL cipher list replacing the profile's TLS 1.2 suites (TLS 1.3 suites by their
         * `TLS_` names replace OpenSSL's TLS 1.3 list). Each entry must name a suite or a group
         * OpenSSL knows; checked with OpenSSL at load. Default: unset (the profile's list).
         */
        ciphers: T.Optional(Str('OpenSSL cipher list overriding the profile (default unset)')),
        verifyDepth: T.Integer({ minimum: 1, maximum: 16, default: 3, description: 'maximum client chain depth below the trust anchor' }),
        sessionResumption: T.Boolean({ default: false, description: 'TLS session resumption' }),
        groups: T.Optional(
          // One name per entry: no OpenSSL list syntax (`:`, `/` tuples, `?` or `*` prefixes) smuggled into it.
          T.Array(T.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$', description: 'one group name, e.g. X25519MLKEM768' }), {
            minItems: 1,
            maxItems: 32,
            description: `key-exchange groups in order of preference, OpenSSL names (unset: ${DEFAULT_GROUPS.join(', ')}, minus what this runtime's OpenSSL lacks)`,
          }),
        ),
      },
      strict,
    ),
    routes: T.Array(RouteSchema, { minItems: 1, description: 'routes, first match wins' }),
    identityHeaders: T.Object(
      {
        subjectDN: T.Union([HeaderName], { default: 'X-Client-Subject-DN', description: 'subject DN header (always on)' }),
        issuerDN: OptionalHeader('issuerDN'),
        verify: OptionalHeader('verify'),
        serial: OptionalHeader('serial'),
        fingerprint: OptionalHeader('fingerprint'),
        fingerprintAlgorithm: T.Union([T.Literal('sha1'), T.Literal('sha256')], { default: 'sha1', description: 'sha1 like $ssl_client_fingerprint, or sha256' }),
        cert: OptionalHeader('cert'),
        xfcc: T.Boolean({ default: false, description: 'X-Forwarded-Client-Cert, Envoy format' }),
        rfc9440: T.Boolean({ default: false, description: 'RFC 9440 Client-Cert and Client-Cert-Chain' }),
      },
      { ...strict, default: {} },
    ),
    metrics: T.Object(
      {
        listen: T.Union([T.String({ minLength: 3 }), T.Literal(false)], { default: '127.0.0.1:9464', description: 'HOST:PORT of /metrics, /healthz, /readyz, or false' }),
        upstreamProbeIntervalMs: Ms(5_000, '/readyz: every upstream address gets a TCP connect probe this often; not ready when none answered within the last interval'),
      },
      { ...strict, default: {} },
    ),
    log: T.Object(
      {
        level: T.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => T.Literal(l)), { default: 'info', description: 'pino level' }),
        access: T.Boolean({ default: true, description: 'one JSON line per request' }),
      },
      { ...strict, default: {} },
    ),
    paths: T.Object(
      {
        escapedSlashes: T.Union([T.Literal('reject'), T.Literal('decode')], {
          default: 'reject',
          description:
            'encoded / and \\ (%2F, %5C) in a request path: "reject" answers 400; "decode" routes and authorizes on the path with them decoded (as nginx matches locations) and forwards them still encoded',
        }),
      },
      { ...strict, default: {} },
    ),
    limits: T.Object(
      {
        handshakeTimeoutMs: Ms(10_000, 'TLS handshake must finish within'),
        headersTimeoutMs: Ms(10_000, 'request headers must arrive within'),
        requestTimeoutMs: Ms(300_000, 'whole request must arrive within'),
        idleTimeoutMs: Ms(60_000, 'keep-alive connections and HTTP/2 sessions idle for longer are closed'),
        upstreamTimeoutMs: Ms(30_000, 'upstream response headers must arrive within'),
        maxHeaderBytes: T.Integer({ minimum: 1024, maximum: 1_048_576, default: 16_384, description: 'request header block limit in bytes' }),
        drainTimeoutMs: Ms(15_000, 'on SIGTERM, in-flight requests may finish within'),
        maxConnections: T.Integer({ minimum: 1, maximum: 10_000_000, default: 100_000, description: 'concurrent client connections per worker' }),
        maxConcurrentStreams: T.Integer({ minimum: 1, maximum: 10_000, default: 100, description: 'HTTP/2 streams a client may have open at once on one connection' }),
        maxStreamResets: T.Integer({
          minimum: 1,
          maximum: 1_000_000,
          default: 200,
          description: 'HTTP/2 streams a client may cancel within streamResetWindowMs before its connection is cut off, against rapid reset, CVE-2023-44487',
        }),
        streamResetWindowMs: Ms(10_000, 'window of maxStreamResets'),
        upgradeIdleTimeoutMs: Ms(300_000, 'WebSocket and other upgraded connections idle (no byte either way) for longer are closed'),
        requestBufferBytes: T.Integer({
          minimum: 0,
          maximum: 16_777_216,
          default: 65_536,
          description: 'request bodies up to this size are read whole before an upstream connection is taken; larger ones stream (like nginx client_body_buffer_size with proxy_request_buffering)',
        }),
        bodyTimeoutMs: Ms(60_000, 'a request body that sends nothing for this long is answered 408 and its upstream request aborted (nginx client_body_timeout)'),
        sendTimeoutMs: Ms(60_000, 'a client that reads nothing of its response for this long is disconnected and the upstream released (nginx send_timeout)'),
        maxConcurrentPerIdentity: T.Integer({
          minimum: 1,
          maximum: 1_000_000,
          default: 64,
          description: 'requests one subject DN may have in flight per worker; more get 429 with Retry-After (half of the pooled connections of an upstream address; nginx limit_conn on $ssl_client_s_dn)',
        }),
        upstreamQueueTimeoutMs: Ms(10_000, 'a request waiting this long for a free pooled upstream connection is answered 503'),
        maxConnectionAgeMs: Ms(
          3_600_000,
          'a keep-alive connection or HTTP/2 session older than this is closed gracefully: Connection: close on its next response, GOAWAY on HTTP/2 (nginx keepalive_time; upgraded tunnels are exempt)',
        ),
        maxRequestsPerConnection: T.Integer({
          minimum: 1,
          maximum: 10_000_000,
          default: 1000,
          description: 'requests served on one connection before it is closed gracefully: Connection: close on the last response, GOAWAY on HTTP/2 (nginx keepalive_requests)',
        }),
      },
      { ...strict, default: {} },
    ),
  },
  strict,
);

export type Config = Static<typeof ConfigSchema>;
export type RouteConfig = Static<typeof RouteSchema>;
export type UpstreamConfig = Static<typeof UpstreamObjectSchema>;
export type IdentityRule = Static<typeof IdentityRuleSchema>;
