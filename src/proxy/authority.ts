/**
 * Host and HTTP/2 `:authority` validation. What routing matches and what
 * the upstream receives must be the same host, so anything an application
 * could read as another host is refused (400): userinfo (`x@admin.internal`:
 * `new URL('http://' + host)` reads `admin.internal`), `/ \ ? #` (they end
 * the authority for a URL parser), `%` (escapes and IPv6 zone ids), space,
 * control bytes, empty labels, and numbers a URL parser reads as an IPv4
 * address in another spelling (`0x7f.1`, `2130706433`, `010.0.0.1`).
 *
 * Accepted: a host name of RFC 1123 labels (letters, digits, `-`, plus `_`,
 * which Docker and others use in service names and no parser treats as a
 * delimiter), a dotted-quad IPv4 literal, or a bracketed IPv6 literal,
 * then optionally `:port` (1–65535). One trailing dot (the absolute DNS
 * form) is accepted and dropped.
 *
 * The value forwarded upstream as Host (and X-Forwarded-Host) is the
 * canonical one: lower case, no trailing dot, IPv6 in its RFC 5952 form,
 * the port as a plain number.
 */
import { isIPv6 } from 'node:net';

export interface Authority {
  /** Host for matching routes and SNI: lower case, no port, no trailing dot; IPv6 bracketed. */
  readonly host: string;
  /** `host[:port]`, forwarded upstream. */
  readonly value: string;
}

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
const DEC_OCTET = /^(?:0|[1-9][0-9]{0,2})$/;

/** True when a URL parser would read the last label as a number, making the name an IPv4 address. */
function looksNumeric(label: string): boolean {
  return /^[0-9]+$/.test(label) || /^0x[0-9a-f]*$/.test(label);
}

function ipv4(labels: readonly string[]): boolean {
  return labels.length === 4 && labels.every((l) => DEC_OCTET.test(l) && Number(l) <= 255);
}

/**
 * Recent answers by raw value: a proxy sees few distinct Hosts, and this
 * runs per request. Cleared when full, so hostile values cannot grow it.
 */
const cache = new Map<string, Authority | null>();
const CACHE_MAX = 1024;

/** The validated authority of `raw` (a Host header or `:authority`), or null when it must be refused. */
export function parseAuthority(raw: string | undefined): Authority | null {
  if (raw === undefined) return null;
  let a = cache.get(raw);
  if (a === undefined) {
    a = parse(raw);
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(raw, a);
  }
  return a;
}

function parse(raw: string): Authority | null {
  if (raw.length === 0 || raw.length > 261) return null;
  const s = raw.toLowerCase();
  let host: string;
  let rest: string;
  if (s.charCodeAt(0) === 0x5b /* [ */) {
    const end = s.indexOf(']');
    if (end < 0) return null;
    const inner = s.slice(1, end);
    if (!/^[0-9a-f:.]+$/.test(inner) || !isIPv6(inner)) return null;
    host = new URL(`http://[${inner}]/`).host; // RFC 5952 canonical text, as WHATWG URL (and so the upstream app) prints it
    rest = s.slice(end + 1);
  } else {
    const colon = s.indexOf(':');
    let name = colon < 0 ? s : s.slice(0, colon);
    rest = colon < 0 ? '' : s.slice(colon);
    if (name.endsWith('.')) name = name.slice(0, -1);
    if (name.length === 0 || name.length > 253) return null;
    const labels = name.split('.');
    if (!labels.every((l) => LABEL.test(l))) return null;
    if (looksNumeric(labels[labels.length - 1]!) && !ipv4(labels)) return null;
    host = name;
  }
  if (rest === '') return { host, value: host };
  const m = /^:([0-9]{1,5})$/.exec(rest);
  if (m === null) return null;
  const port = Number(m[1]);
  if (port < 1 || port > 65535) return null;
  return { host, value: `${host}:${port}` };
}
