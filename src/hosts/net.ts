/**
 * The few address forms an inventory holds: IPv4 addresses and subnets of the
 * WireGuard overlay, and `host:port` endpoints. Parsers return `undefined`
 * (or a reason string) instead of throwing, so validation can report every
 * problem at once.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface Subnet {
  /** Network address as a 32-bit unsigned integer. */
  base: number;
  prefix: number;
}

/** `a.b.c.d` → 32-bit unsigned integer, or undefined. Leading zeros are refused (ambiguous octal). */
export function parseIPv4(text: string): number | undefined {
  if (!isIPv4(text) || text.split('.').some((o) => o.length > 1 && o.startsWith('0'))) return undefined;
  return text.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** `10.100.0.0/24` → Subnet, or a reason why not. Host bits must be zero. */
export function parseSubnet(text: string): Subnet | string {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text);
  const base = m ? parseIPv4(m[1]!) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (base === undefined || !(prefix >= 8 && prefix <= 30)) return 'expected an IPv4 subnet a.b.c.d/8..30';
  if ((base & ~mask(prefix)) >>> 0 !== 0) return `host bits set; did you mean ${formatIPv4((base & mask(prefix)) >>> 0)}/${prefix}?`;
  return { base, prefix };
}

/**
 * A host address `10.100.0.2` or `10.100.0.2/24` (the prefix, if written,
 * must be the subnet's) → integer, or a reason why not. The network and
 * broadcast addresses are refused.
 */
export function parseHostAddress(text: string, subnet: Subnet): number | string {
  const [addr = '', prefix, extra] = text.split('/');
  const n = parseIPv4(addr);
  if (n === undefined || extra !== undefined) return 'expected an IPv4 address such as 10.100.0.2';
  if (prefix !== undefined && prefix !== String(subnet.prefix)) return `prefix /${prefix} differs from network.subnet /${subnet.prefix}`;
  const m = mask(subnet.prefix);
  if ((n & m) >>> 0 !== subnet.base) return `${addr} is outside network.subnet ${formatIPv4(subnet.base)}/${subnet.prefix}`;
  const hostPart = (n & ~m) >>> 0;
  if (hostPart === 0 || hostPart === (~m >>> 0)) return `${addr} is the network or broadcast address of the subnet`;
  return n;
}

const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** Checks a WireGuard endpoint `host:port`; returns undefined when valid, else the reason. */
export function endpointProblem(text: string): string | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (!m) return 'expected host:port, [ipv6]:port';
  const portNumber = Number(m[3]);
  if (portNumber < 1 || portNumber > 65535) return `port ${m[3]} is out of range 1-65535`;
  if (m[1] !== undefined) return isIPv6(m[1]) ? undefined : `${m[1]} is not an IPv6 address`;
  const host = m[2]!;
  if (/^[0-9.]+$/.test(host)) return parseIPv4(host) === undefined ? `${host} is not an IPv4 address` : undefined;
  return DNS_NAME.test(host) ? undefined : `${host} is not a DNS name`;
}
