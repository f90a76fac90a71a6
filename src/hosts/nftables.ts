import type { Inventory } from './schema.js';
import type { AppliedRule, HostView } from './topology.js';

const WG_IF = 'wg0';

function describe(r: AppliedRule): string {
  return `rules[${r.index}]: ${r.rule.from} -> ${r.rule.to} ${r.rule.proto}/${r.rule.port}${r.rule.via === 'public' ? ' public' : ''}`;
}

const addrSet = (r: AppliedRule) => `{ ${r.members.map((m) => m.address).join(', ')} }`;

/** Outbound rules, only when the inventory sets `firewall.outputPolicy: drop`. */
function outputRules(view: HostView): string[] {
  return [
    'oif "lo" accept',
    'ct state established,related accept',
    'ct state invalid drop',
    'ip protocol icmp icmp type { echo-request, destination-unreachable, time-exceeded, parameter-problem } accept',
    'meta l4proto ipv6-icmp icmpv6 type { echo-request, destination-unreachable, packet-too-big, time-exceeded, parameter-problem, nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept',
    `udp sport ${view.listenPort} accept comment "WireGuard"`,
    ...view.outbound.map(
      (r) => `oifname "${WG_IF}" ip daddr ${addrSet(r)} ${r.rule.proto} dport ${r.rule.port} accept comment "${describe(r)}"`,
    ),
    'counter name "output_dropped" drop',
  ];
}

/**
 * Renders `/etc/nftables.conf` for one host: deny-all input and forward,
 * admitting only loopback, replies, ICMP essentials, WireGuard's UDP port and
 * the inventory's flows. wg rules match `iifname "wg0"` and the allowed
 * peers' wg addresses (trustworthy there: see renderWgConf); public rules
 * match every other interface. `iifname` (a name, not an index) lets the
 * ruleset load at boot before wg0 exists.
 */
export function renderNftables(inv: Inventory, view: HostView): string {
  const outputDrop = inv.firewall.outputPolicy === 'drop';
  const input = [
    'iif "lo" accept',
    'ct state established,related accept',
    'ct state invalid drop',
    '# ICMP essentials: errors for PMTU discovery and traceroute, ping, IPv6 neighbour discovery',
    'ip protocol icmp icmp type { echo-request, destination-unreachable, time-exceeded, parameter-problem } accept',
    'meta l4proto ipv6-icmp icmpv6 type { echo-request, destination-unreachable, packet-too-big, time-exceeded, parameter-problem, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept',
    '# WireGuard answers nothing to unauthenticated packets, so its port can stay open to all',
    `udp dport ${view.listenPort} accept comment "WireGuard"`,
    ...view.inbound.map(
      (r) => `iifname "${WG_IF}" ip saddr ${addrSet(r)} ${r.rule.proto} dport ${r.rule.port} accept comment "${describe(r)}"`,
    ),
    ...view.publicInbound.map((r) => `iifname != "${WG_IF}" ${r.rule.proto} dport ${r.rule.port} accept comment "${describe(r)}"`),
    '# everything else: counted, then dropped (the chain policy is the backstop)',
    'counter name "input_dropped" drop',
  ];
  const chain = (name: string, policy: string, rules: string[]) =>
    [`\tchain ${name} {`, `\t\ttype filter hook ${name} priority filter; policy ${policy};`, ...rules.map((r) => `\t\t${r}`), '\t}'].join('\n');
  return `#!/usr/sbin/nft -f
# nftables.conf of ${view.host.name} (role ${view.host.role}, ${view.host.address} on ${WG_IF}), rendered by \`ztproxy hosts render\`.
# Re-render instead of editing. Load with: nft -f nftables.conf
flush ruleset

table inet ztproxy {
\tcounter input_dropped {
\t}
${outputDrop ? '\tcounter output_dropped {\n\t}\n' : ''}
${chain('input', 'drop', input)}

${chain('forward', 'drop', [])}

${chain('output', outputDrop ? 'drop' : 'accept', outputDrop ? outputRules(view) : [])}
}
`;
}
