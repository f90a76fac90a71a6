/**
 * Request and response header rewriting on the hot path: flat raw arrays,
 * one pass, no regular expressions.
 */

/** Hop-by-hop headers (RFC 9110 §7.6.1) plus the ones undici must set itself. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'http2-settings',
  'expect',
  'host',
]);

const RESPONSE_HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

/** Names a client may use to smuggle an identity, beyond the configured ones. */
const WELL_KNOWN_IDENTITY = new Set(['x-forwarded-client-cert', 'client-cert', 'client-cert-chain', 'ssl-client-cert']);
const IDENTITY_PREFIXES = ['x-client-', 'x-ssl-client-', 'x-ssl-'];

/**
 * Forwarding headers: the proxy's own. A client's copies would let it claim
 * another address, scheme or host to an upstream that trusts them.
 */
const FORWARDING = new Set(['forwarded', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-real-ip']);

/** True when a (lower-case) header name is a forwarding header, `_` read as `-` (WSGI maps both to one variable). */
export function isForwardingHeader(lower: string): boolean {
  return FORWARDING.has(lower.includes('_') ? lower.replaceAll('_', '-') : lower);
}

/**
 * True when a (lower-case) header name could carry a client identity: the
 * configured names and the well-known ones, with `_` read as `-` (nginx and
 * many frameworks treat `X_Client_Subject_DN` as `X-Client-Subject-DN`).
 */
export function isIdentityHeader(lower: string, configured: ReadonlySet<string>): boolean {
  const name = lower.includes('_') ? lower.replaceAll('_', '-') : lower;
  if (configured.has(name) || WELL_KNOWN_IDENTITY.has(name)) return true;
  for (const p of IDENTITY_PREFIXES) if (name.startsWith(p)) return true;
  return false;
}

/** Per-request values that go upstream besides the client's own headers. */
export interface ForwardedFacts {
  readonly host: string;
  readonly requestId: string;
  readonly remoteAddress: string;
  /** `[name, value, …]` identity headers of the connection. */
  readonly identity: readonly string[];
}

/**
 * Builds the upstream request headers from the client's raw headers: drops
 * hop-by-hop headers and those the Connection header names, drops every
 * copy of every identity header and of every forwarding header (`Forwarded`,
 * `X-Forwarded-*`, `X-Real-IP`), then appends the proxy's own values:
 * X-Forwarded-For and X-Real-IP are the peer address, X-Forwarded-Proto
 * `https`, X-Forwarded-Host the validated Host.
 */
export function upstreamRequestHeaders(raw: readonly string[], f: ForwardedFacts, identityNames: ReadonlySet<string>): string[] {
  let connectionTokens: string[] | null = null;
  let cookie = '';
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(name)) {
      if (name === 'connection') {
        const tokens = raw[i + 1]!.toLowerCase().split(',').map((t) => t.trim());
        connectionTokens = connectionTokens === null ? tokens : connectionTokens.concat(tokens);
      }
      continue;
    }
    if (name.charCodeAt(0) === 0x3a) continue; // HTTP/2 pseudo-header (:method, :path, :authority, :scheme)
    if (name === 'cookie') {
      cookie = cookie === '' ? raw[i + 1]! : `${cookie}; ${raw[i + 1]!}`; // HTTP/2 splits cookies; HTTP/1.1 wants one field (RFC 9113 §8.2.3)
      continue;
    }
    if (name === 'x-request-id' || isForwardingHeader(name) || isIdentityHeader(name, identityNames)) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  // Headers the Connection header names are hop-by-hop too (RFC 9110 §7.6.1); rare, so filtered afterwards.
  let kept = out;
  if (connectionTokens !== null) {
    kept = [];
    for (let i = 0; i < out.length; i += 2) if (!connectionTokens.includes(out[i]!.toLowerCase())) kept.push(out[i]!, out[i + 1]!);
    if (connectionTokens.includes('cookie')) cookie = '';
  }
  if (cookie !== '') kept.push('cookie', cookie);
  kept.push('host', f.host);
  kept.push('x-forwarded-for', f.remoteAddress, 'x-real-ip', f.remoteAddress);
  kept.push('x-forwarded-proto', 'https', 'x-forwarded-host', f.host, 'x-request-id', f.requestId);
  for (let i = 0; i < f.identity.length; i++) kept.push(f.identity[i]!);
  return kept;
}

/** Response headers from undici's raw Buffers, hop-by-hop headers removed. */
export function downstreamResponseHeaders(raw: readonly Buffer[], requestId: string): string[] {
  const out: string[] = [];
  let connectionTokens: string[] | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1');
    const lower = name.toLowerCase();
    if (RESPONSE_HOP_BY_HOP.has(lower)) {
      if (lower === 'connection') connectionTokens = raw[i + 1]!.toString('latin1').toLowerCase().split(',').map((t) => t.trim());
      continue;
    }
    if (lower === 'x-request-id') continue;
    out.push(name, raw[i + 1]!.toString('latin1'));
  }
  if (connectionTokens !== null) {
    const filtered: string[] = [];
    for (let i = 0; i < out.length; i += 2) if (!connectionTokens.includes(out[i]!.toLowerCase())) filtered.push(out[i]!, out[i + 1]!);
    filtered.push('x-request-id', requestId);
    return filtered;
  }
  out.push('x-request-id', requestId);
  return out;
}
