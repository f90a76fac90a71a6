/**
 * Who talks to whom: the inventory's rules resolved to concrete members.
 * The renderers read only this view, so wg0.conf peers, nftables source sets
 * and ztproxy upstreams can never disagree about who may reach what.
 */
import type { Inventory, InventoryRule } from './schema.js';

/** A mesh member: a rendered host, or an admin workstation (a WireGuard peer only). */
export interface Member {
  name: string;
  kind: 'host' | 'admin';
  /** Role of a host; undefined for admins. */
  role: string | undefined;
  /** Bare IPv4 address on wg0, without prefix. */
  address: string;
  endpoint: string | undefined;
  /** Supplied public key (admins); hosts get theirs from the keys directory. */
  publicKey: string | undefined;
}

/** One rule as it applies to one host. */
export interface AppliedRule {
  rule: InventoryRule;
  /** Index in `rules`, for comments and error paths. */
  index: number;
  /** For inbound wg rules, the members allowed in; for outbound, the hosts reached. Never contains the host itself. */
  members: Member[];
}

export interface HostView {
  host: Member;
  listenPort: number;
  persistentKeepaliveSeconds: number | undefined;
  /** WireGuard peers, in inventory order: every member a wg rule connects to this host, either direction. */
  peers: Member[];
  /** wg rules that admit traffic to this host, with their non-empty source sets. */
  inbound: AppliedRule[];
  /** public rules that admit traffic to this host. */
  publicInbound: AppliedRule[];
  /** wg rules from this host, with their non-empty target sets. */
  outbound: AppliedRule[];
  /** Some rule admits tcp/ssh.port to this host. */
  sshReachable: boolean;
  /** No public rule admits tcp/ssh.port: sshd listens on the wg address only. */
  sshWgOnly: boolean;
  /** Local user → principals, `all` merged with the host's role (sorted, unique). */
  principals: Map<string, string[]>;
}

export function stripPrefix(address: string): string {
  return address.split('/')[0]!;
}

export function members(inv: Inventory): Member[] {
  return [
    ...inv.hosts.map((h): Member => ({
      name: h.name, kind: 'host', role: h.role, address: stripPrefix(h.address), endpoint: h.endpoint, publicKey: undefined,
    })),
    ...inv.admins.map((a): Member => ({
      name: a.name, kind: 'admin', role: undefined, address: stripPrefix(a.address), endpoint: a.endpoint, publicKey: a.publicKey,
    })),
  ];
}

/** Does rule source `from` (role, `admins`, `any`) select `m`? */
export function sourceMatches(from: string, m: Member): boolean {
  return from === 'any' || (from === 'admins' ? m.kind === 'admin' : m.kind === 'host' && m.role === from);
}

/** Does rule destination `to` (role or `all`) select `m`? Admins are never destinations. */
export function targetMatches(to: string, m: Member): boolean {
  return m.kind === 'host' && (to === 'all' || m.role === to);
}

/** Resolves every rule for every host. Assumes a validated inventory. */
export function buildTopology(inv: Inventory): HostView[] {
  const all = members(inv);
  return inv.hosts.map((h, i) => {
    const self = all[i]!;
    const others = all.filter((m) => m !== self);
    const inbound: AppliedRule[] = [];
    const publicInbound: AppliedRule[] = [];
    const outbound: AppliedRule[] = [];
    inv.rules.forEach((rule, index) => {
      if (!targetMatches(rule.to, self)) {
        if (rule.via === 'wg' && sourceMatches(rule.from, self)) {
          const targets = others.filter((m) => targetMatches(rule.to, m));
          if (targets.length) outbound.push({ rule, index, members: targets });
        }
        return;
      }
      if (rule.via === 'public') {
        publicInbound.push({ rule, index, members: [] });
        return;
      }
      const sources = others.filter((m) => sourceMatches(rule.from, m));
      if (sources.length) inbound.push({ rule, index, members: sources });
      if (sourceMatches(rule.from, self)) {
        const targets = others.filter((m) => targetMatches(rule.to, m));
        if (targets.length) outbound.push({ rule, index, members: targets });
      }
    });
    const linked = new Set([...inbound, ...outbound].flatMap((r) => r.members));
    const isSsh = (r: AppliedRule) => r.rule.proto === 'tcp' && r.rule.port === inv.ssh.port;
    const principals = new Map<string, string[]>();
    for (const scope of ['all', h.role]) {
      for (const [user, list] of Object.entries(inv.ssh.principals[scope] ?? {})) {
        principals.set(user, [...new Set([...(principals.get(user) ?? []), ...list])].sort());
      }
    }
    return {
      host: self,
      listenPort: h.listenPort ?? inv.network.listenPort,
      persistentKeepaliveSeconds: h.persistentKeepaliveSeconds,
      peers: all.filter((m) => linked.has(m)),
      inbound,
      publicInbound,
      outbound,
      sshReachable: inbound.some(isSsh) || publicInbound.some(isSsh),
      sshWgOnly: !publicInbound.some(isSsh),
      principals: new Map([...principals].sort(([a], [b]) => a.localeCompare(b))),
    };
  });
}
