/**
 * YAML → validated, normalized, deep-frozen config. Nothing here binds a
 * socket; TLS files are read and checked by src/tls before anything listens.
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { Value } from '@sinclair/typebox/value';
import { ZtpError } from '../util/index.js';
import { checkSchema, parseStrictYaml, ValidationError, type Problem } from '../util/index.js';
import { cipherListProblems, groupProblems } from './openssl-names.js';
import { ConfigSchema, IDENTITY_HEADER_WHEN_TRUE, UpstreamObjectSchema, type Config, type IdentityRule, type RouteConfig, type UpstreamConfig } from './schema.js';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface ResolvedUpstream {
  /** Origins (`scheme://host:port`), one pool each. */
  readonly origins: readonly string[];
  readonly tls: boolean;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly servername?: string;
  readonly insecurePlaintext: boolean;
  readonly connections: number;
}

export interface ResolvedRoute {
  readonly index: number;
  readonly name: string;
  /** Lower-case host without port, or undefined for any host. */
  readonly host?: string;
  readonly pathPrefix: string;
  readonly upstream: ResolvedUpstream;
  readonly allow?: IdentityRule;
  readonly deny?: IdentityRule;
}

/** Identity header names after defaults: lower-case name or null when off. */
export interface IdentityHeaderNames {
  readonly subjectDN: string;
  readonly issuerDN: string | null;
  readonly verify: string | null;
  readonly serial: string | null;
  readonly fingerprint: string | null;
  readonly cert: string | null;
}

export type ResolvedConfig = Readonly<Omit<Config, 'routes'>> & {
  readonly listenAddress: HostPort;
  readonly metricsAddress: HostPort | null;
  readonly routes: readonly ResolvedRoute[];
  readonly headerNames: IdentityHeaderNames;
  /** Configured virtual host names (lower case). */
  readonly hosts: ReadonlySet<string>;
  /** The file it came from, if any (relative paths in it are resolved already). */
  readonly source: string | null;
};

/** Quick-start flags: each overrides the file's value where both are given. */
export interface ConfigOverrides {
  listen?: string;
  cert?: string;
  key?: string;
  clientCA?: string;
  crl?: string;
  upstream?: string;
  metricsListen?: string | false;
  workers?: number | 'auto';
  logLevel?: string;
  insecurePlaintextUpstream?: boolean;
  allow?: IdentityRule;
}

/** Parses `host:port`, `[v6]:port`; port 0 means "any free port". */
export function parseHostPort(text: string): HostPort | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):([0-9]{1,5})$/.exec(text);
  if (!m) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  return { host: m[1] ?? m[2]!, port };
}

/** True for addresses that never leave this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/**
 * Reads, validates and normalizes a config from a YAML file and/or quick-start
 * flags. Throws `ZTP_CONFIG_READ` when the file cannot be read,
 * `ZTP_CONFIG_PARSE` when it is not strict YAML, and otherwise a
 * {@link ValidationError} listing every problem by key path:
 * `ZTP_CONFIG_UNKNOWN_KEY` when the only problems are unknown keys,
 * `ZTP_CONFIG_INSECURE_UPSTREAM` when they are only plaintext non-loopback
 * upstreams, `ZTP_CONFIG_INVALID` otherwise.
 */
export async function loadConfig(file: string | undefined, overrides: ConfigOverrides = {}): Promise<ResolvedConfig> {
  let raw: unknown = {};
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (cause) {
      throw new ZtpError('ZTP_CONFIG_READ', `reading config ${file}`, { cause });
    }
    raw = parseYaml(text, file);
  }
  return resolveConfig(raw, overrides, file ?? null);
}

/** Parses config YAML strictly (duplicate keys, bad aliases and alias bombs are errors): `ZTP_CONFIG_PARSE`. */
export function parseYaml(text: string, file = 'config'): unknown {
  return parseStrictYaml(text, file, 'ZTP_CONFIG_PARSE');
}

/** Validates a parsed config object; see {@link loadConfig}. */
export function resolveConfig(raw: unknown, overrides: ConfigOverrides = {}, source: string | null = null): ResolvedConfig {
  const where = source ?? 'config';
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw configError(where, [{ path: '(top level)', message: 'expected a mapping' }], 'ZTP_CONFIG_INVALID');
  }
  const merged = applyOverrides(structuredClone(raw) as Record<string, unknown>, overrides);
  // checkSchema fills `merged` in place: what the operator wrote is read before it.
  const writtenMinVersion = (merged as { tls?: { minVersion?: unknown } }).tls?.minVersion;
  const { value: cfg, problems } = checkSchema(ConfigSchema, merged);
  if (problems.length > 0) {
    const onlyUnknownKeys = problems.every((p) => p.unknownKey === true);
    throw configError(where, problems, onlyUnknownKeys ? 'ZTP_CONFIG_UNKNOWN_KEY' : 'ZTP_CONFIG_INVALID');
  }
  const more: Problem[] = [];
  // Plain http to a non-loopback upstream: kept apart, since those alone get their own code.
  const insecure: Problem[] = [];
  const listenAddress = parseHostPort(cfg.listen);
  if (!listenAddress) more.push({ path: 'listen', message: `expected HOST:PORT, got ${JSON.stringify(cfg.listen)}` });
  let metricsAddress: HostPort | null = null;
  if (cfg.metrics.listen !== false) {
    metricsAddress = parseHostPort(cfg.metrics.listen);
    if (!metricsAddress) more.push({ path: 'metrics.listen', message: `expected HOST:PORT or false, got ${JSON.stringify(cfg.metrics.listen)}` });
  }
  const names = new Set<string>();
  const routes = cfg.routes.map((r, i) => {
    if (names.has(r.name)) more.push({ path: `routes[${i}].name`, message: `duplicate route name ${JSON.stringify(r.name)}` });
    names.add(r.name);
    return resolveRoute(r, i, overrides, more, insecure);
  });
  const headerNames = resolveHeaderNames(cfg, more);
  if (cfg.tls.groups !== undefined) {
    for (const [i, message] of groupProblems(cfg.tls.groups)) more.push({ path: i === null ? 'tls.groups' : `tls.groups[${i}]`, message });
  }
  if (cfg.tls.ciphers !== undefined) for (const message of cipherListProblems(cfg.tls.ciphers)) more.push({ path: 'tls.ciphers', message });
  if (cfg.tls.profile === 'modern' && writtenMinVersion === 'TLSv1.2') {
    more.push({ path: 'tls.minVersion', message: 'TLSv1.2 contradicts tls.profile modern (TLS 1.3 only); remove one of them' });
  }
  if (more.length > 0 || insecure.length > 0) {
    throw configError(where, [...more, ...insecure], more.length > 0 ? 'ZTP_CONFIG_INVALID' : 'ZTP_CONFIG_INSECURE_UPSTREAM');
  }
  const hosts = new Set(routes.flatMap((r) => (r.host ? [r.host] : [])));
  const resolved = {
    ...cfg,
    routes,
    listenAddress: listenAddress!,
    metricsAddress,
    headerNames,
    hosts,
    source,
  };
  return deepFreeze(resolved) as ResolvedConfig;
}

function applyOverrides(raw: Record<string, unknown>, o: ConfigOverrides): Record<string, unknown> {
  const obj = (key: string): Record<string, unknown> => {
    const cur = raw[key];
    if (cur === undefined) raw[key] = {};
    return (raw[key] && typeof raw[key] === 'object' ? raw[key] : {}) as Record<string, unknown>;
  };
  if (o.listen !== undefined) raw.listen = o.listen;
  if (o.workers !== undefined) raw.workers = o.workers;
  if (o.cert !== undefined) obj('tls').cert = o.cert;
  if (o.key !== undefined) obj('tls').key = o.key;
  if (o.clientCA !== undefined) obj('tls').clientCA = o.clientCA;
  if (o.crl !== undefined) obj('tls').crl = o.crl;
  if (o.metricsListen !== undefined) obj('metrics').listen = o.metricsListen;
  if (o.logLevel !== undefined) obj('log').level = o.logLevel;
  if (o.upstream !== undefined) {
    const upstream = o.insecurePlaintextUpstream ? { url: o.upstream, insecurePlaintext: true } : o.upstream;
    const route: Record<string, unknown> = { name: 'default', upstream };
    if (o.allow) route.allow = o.allow;
    raw.routes = [route];
  } else if (o.allow && Array.isArray(raw.routes)) {
    for (const r of raw.routes as Record<string, unknown>[]) if (r && typeof r === 'object') r.allow = o.allow;
  }
  return raw;
}

function resolveRoute(r: RouteConfig, i: number, o: ConfigOverrides, problems: Problem[], insecure: Problem[]): ResolvedRoute {
  const at = `routes[${i}].upstream`;
  // The string form gets the object form's defaults from the schema (the object form has them already).
  const up = Value.Default(UpstreamObjectSchema, typeof r.upstream === 'string' ? { url: r.upstream } : r.upstream) as UpstreamConfig & { connections: number };
  const insecurePlaintext = up.insecurePlaintext === true || o.insecurePlaintextUpstream === true;
  const list = up.urls ?? (up.url !== undefined ? [up.url] : []);
  if (up.url !== undefined && up.urls !== undefined) problems.push({ path: at, message: 'give either url or urls, not both' });
  if (list.length === 0) problems.push({ path: at, message: 'missing (expected url or urls)' });
  const origins: string[] = [];
  let schemes = new Set<string>();
  list.forEach((text, j) => {
    const path = up.urls ? `${at}.urls[${j}]` : typeof r.upstream === 'string' ? at : `${at}.url`;
    let u: URL;
    try {
      u = new URL(text);
    } catch {
      problems.push({ path, message: `expected an http:// or https:// URL, got ${JSON.stringify(text)}` });
      return;
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      problems.push({ path, message: `expected an http:// or https:// URL, got ${JSON.stringify(text)}` });
      return;
    }
    if (u.username || u.password || u.search || u.hash || (u.pathname !== '/' && u.pathname !== '')) {
      problems.push({ path, message: `expected a URL without path, query or credentials, got ${JSON.stringify(text)}` });
      return;
    }
    if (u.protocol === 'http:' && !isLoopbackHost(u.hostname) && !insecurePlaintext) {
      insecure.push({
        path,
        message: `route "${r.name}": plain http to non-loopback ${u.host} would send client identities unencrypted; use https, or set upstream.insecurePlaintext: true (or --insecure-plaintext-upstream) when the network is encrypted (e.g. WireGuard)`,
      });
    }
    schemes.add(u.protocol);
    origins.push(u.origin);
  });
  if (schemes.size > 1) problems.push({ path: at, message: 'all urls of a route must use the same scheme' });
  const tls = schemes.has('https:');
  if (!tls && (up.ca || up.cert || up.key || up.servername)) {
    problems.push({ path: at, message: 'ca, cert, key and servername need an https:// upstream' });
  }
  if ((up.cert === undefined) !== (up.key === undefined)) {
    problems.push({ path: up.cert === undefined ? `${at}.cert` : `${at}.key`, message: 'cert and key go together' });
  }
  schemes = new Set();
  const host = r.host?.toLowerCase().replace(/\.$/, '');
  return {
    index: i,
    name: r.name,
    ...(host !== undefined ? { host } : {}),
    pathPrefix: r.pathPrefix,
    upstream: {
      origins,
      tls,
      ...(up.ca ? { ca: up.ca } : {}),
      ...(up.cert ? { cert: up.cert } : {}),
      ...(up.key ? { key: up.key } : {}),
      ...(up.servername ? { servername: up.servername } : {}),
      insecurePlaintext,
      connections: up.connections,
    },
    ...(r.allow ? { allow: r.allow } : {}),
    ...(r.deny ? { deny: r.deny } : {}),
  };
}

function resolveHeaderNames(cfg: Config, problems: Problem[]): IdentityHeaderNames {
  const ih = cfg.identityHeaders;
  const pick = (k: keyof typeof IDENTITY_HEADER_WHEN_TRUE): string | null => {
    const v = ih[k];
    if (v === false) return null;
    return (v === true ? IDENTITY_HEADER_WHEN_TRUE[k] : v).toLowerCase();
  };
  const names: IdentityHeaderNames = {
    subjectDN: ih.subjectDN.toLowerCase(),
    issuerDN: pick('issuerDN'),
    verify: pick('verify'),
    serial: pick('serial'),
    fingerprint: pick('fingerprint'),
    cert: pick('cert'),
  };
  const seen = new Map<string, string>();
  for (const [k, v] of Object.entries(names)) {
    if (v === null) continue;
    if (seen.has(v)) problems.push({ path: `identityHeaders.${k}`, message: `header ${v} is already used by identityHeaders.${seen.get(v)}` });
    seen.set(v, k);
  }
  return names;
}

function configError(where: string, problems: Problem[], code: 'ZTP_CONFIG_UNKNOWN_KEY' | 'ZTP_CONFIG_INSECURE_UPSTREAM' | 'ZTP_CONFIG_INVALID'): ValidationError {
  return new ValidationError(code, `invalid config ${where}`, problems);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    if (value instanceof Set || value instanceof Map) return Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
