/**
 * `ztproxy policy test`: what the proxy would do with one request from one
 * certificate, without sending traffic. It runs the request path's own
 * pieces in the same order (Host validation, target normalization, Router with the SNI check,
 * the route's IdentityPolicy, buildIdentityHeaders, upstreamRequestHeaders),
 * so its answer is the proxy's answer, not a re-implementation of it.
 *
 * Not simulated: the TLS handshake (chain, validity, CRL, verifyDepth). The
 * result reports the validity window so an expired certificate is visible.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ResolvedConfig } from '../config/index.js';
import { ZtpError } from '../util/index.js';
import { buildIdentityHeaders } from './identity-headers.js';
import { upstreamRequestHeaders } from './headers.js';
import { parseAuthority } from './authority.js';
import { Router } from './router.js';
import { identitySettings } from './runtime.js';
import { identityFromDer, type PeerIdentity } from '../tls/index.js';
import { IdentityPolicy } from '../authz/index.js';

/** What the proxy would answer. `forward` means the request goes upstream. */
export type PolicyOutcome = 'forward' | 'denied' | 'misdirected' | 'no_route' | 'bad_request';

export interface PolicyTestResult {
  readonly outcome: PolicyOutcome;
  /** HTTP status the client would get from the proxy (200 stands for "forwarded"). */
  readonly status: number;
  readonly host: string;
  /** The normalized path (and query) that is matched and forwarded; null when the target is malformed. */
  readonly path: string | null;
  readonly route: { readonly name: string; readonly host: string | null; readonly pathPrefix: string } | null;
  /** The rule that decided (`allow.ou=dev`, `deny.cn=mallory`, `allow (no value matched)`, `no policy`), or why no rule ran. */
  readonly rule: string;
  readonly identity: PeerIdentity;
  readonly notBefore: string;
  readonly notAfter: string;
  /** True when now is outside the certificate's validity window (the handshake would refuse it). */
  readonly outsideValidity: boolean;
  readonly upstream: readonly string[];
  /** Flat `[name, value, …]` headers the upstream would receive; empty unless `forward`. */
  readonly headers: readonly string[];
}

export interface PolicyTestInput {
  readonly config: ResolvedConfig;
  /** The client certificate, PEM (leaf first, chain after) or DER. */
  readonly cert: Buffer;
  /** `https://host[:port]/path?query`. */
  readonly url: string;
  /** TLS server name the client sends; default the URL's host, as curl and browsers do. */
  readonly sni?: string;
  /** Extra request headers `[name, value, …]` the client would send (identity headers among them are stripped, as live). */
  readonly headers?: readonly string[];
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function parseCerts(cert: Buffer): X509Certificate[] {
  const pem = cert.toString('latin1').match(PEM_CERT);
  try {
    return pem ? pem.map((b) => new X509Certificate(b)) : [new X509Certificate(cert)];
  } catch (cause) {
    throw new ZtpError('ZTP_POLICY_TEST', 'the client certificate does not parse (expected PEM or DER)', { cause });
  }
}

/** Reads `--cert` for {@link policyTest}; throws ZtpError `ZTP_POLICY_TEST` when unreadable. */
export async function readCertFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (cause) {
    throw new ZtpError('ZTP_POLICY_TEST', `cannot read ${path}`, { cause });
  }
}

/**
 * Decides one request the way the running proxy would. Throws ZtpError
 * `ZTP_POLICY_TEST` for an unparseable certificate or URL; never contacts
 * anything.
 */
export function policyTest(input: PolicyTestInput): PolicyTestResult {
  const certs = parseCerts(input.cert);
  const leaf = certs[0]!;
  const identity = identityFromDer(leaf.raw, certs.slice(1).map((c) => c.raw));
  let url: URL;
  try {
    url = new URL(input.url);
  } catch (cause) {
    throw new ZtpError('ZTP_POLICY_TEST', `--url: expected https://host/path, got ${JSON.stringify(input.url)}`, { cause });
  }
  if (url.protocol !== 'https:') throw new ZtpError('ZTP_POLICY_TEST', `--url: expected an https:// URL, got ${JSON.stringify(input.url)}`);
  const config = input.config;
  // The raw authority and target as a client would send them (absolute-form): `new URL` would already have
  // resolved dot-segments and dropped a fragment, which the live proxy refuses or resolves itself.
  const rawAuthority = /^https:\/\/([^/?#]*)/i.exec(input.url)?.[1];
  if (rawAuthority === undefined) throw new ZtpError('ZTP_POLICY_TEST', `--url: expected https://host/path, got ${JSON.stringify(input.url)}`);
  const sni = (input.sni ?? url.hostname).toLowerCase().replace(/^\[|\]$/g, '');
  const now = Date.now();
  const base = {
    host: parseAuthority(rawAuthority)?.host ?? url.hostname,
    identity,
    notBefore: leaf.validFrom,
    notAfter: leaf.validTo,
    outsideValidity: now < Date.parse(leaf.validFrom) || now > Date.parse(leaf.validTo),
  };
  const m = new Router(config).resolve(rawAuthority, input.url, sni);
  if (m.kind === 'bad_request') return { ...base, outcome: 'bad_request', status: 400, path: null, route: null, rule: m.reason, upstream: [], headers: [] };
  if (m.kind !== 'route') {
    const misdirected = m.kind === 'misdirected';
    return { ...base, outcome: misdirected ? 'misdirected' : 'no_route', status: misdirected ? 421 : 404, path: null, route: null, rule: misdirected ? `SNI ${sni} and Host ${base.host} name different virtual hosts` : 'no route matches', upstream: [], headers: [] };
  }
  const path = m.path;
  const r = m.route;
  const route = { name: r.name, host: r.host ?? null, pathPrefix: r.pathPrefix };
  const decision = new IdentityPolicy(r.allow, r.deny).evaluate(identity);
  if (!decision.allowed) return { ...base, outcome: 'denied', status: 403, path, route, rule: decision.rule, upstream: r.upstream.origins, headers: [] };
  const ids = identitySettings(config);
  const headers = upstreamRequestHeaders(
    input.headers ?? [],
    { host: m.authority, requestId: '<x-request-id>', remoteAddress: '<client address>', identity: buildIdentityHeaders(identity, ids.options) },
    ids.names,
  );
  return { ...base, outcome: 'forward', status: 200, path, route, rule: decision.rule, upstream: r.upstream.origins, headers };
}

/** Human-readable report of a {@link PolicyTestResult}, one fact per line. */
export function formatPolicyTest(r: PolicyTestResult): string {
  const lines: string[] = [];
  lines.push(`client: ${r.identity.subjectDN || '(empty subject)'} (serial ${r.identity.serial}, issuer ${r.identity.issuerDN})`);
  if (r.outsideValidity) lines.push(`warning: the certificate is valid ${r.notBefore} to ${r.notAfter}; the handshake would refuse it now`);
  lines.push(r.route ? `route: ${r.route.name} (host ${r.route.host ?? '*'}, pathPrefix ${r.route.pathPrefix})` : 'route: none');
  const verdict: Record<PolicyOutcome, string> = {
    forward: `forward: ${r.status} from upstream, ${r.rule}`,
    denied: `deny: 403, ${r.rule}`,
    misdirected: `refuse: 421, ${r.rule}`,
    no_route: `refuse: 404, ${r.rule}`,
    bad_request: `refuse: 400, ${r.rule}`,
  };
  lines.push(`decision: ${verdict[r.outcome]}`);
  if (r.outcome === 'forward') {
    lines.push(`upstream: ${r.upstream.join(', ')} ${r.path}`);
    lines.push('upstream request headers:');
    for (let i = 0; i < r.headers.length; i += 2) lines.push(`  ${r.headers[i]}: ${r.headers[i + 1]}`);
  }
  lines.push('not checked here: chain, validity, CRL and verifyDepth (the handshake does those)');
  return lines.join('\n') + '\n';
}
