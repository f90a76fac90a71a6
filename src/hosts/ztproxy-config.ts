import { DEFAULT_PATH_PREFIX, type Inventory } from './schema.js';
import type { HostView } from './topology.js';

const PLAIN = /^[A-Za-z0-9_/.:-]+$/;
/** A YAML scalar: plain when unambiguous, else double-quoted (JSON strings are valid YAML). */
const q = (s: string) => (PLAIN.test(s) && !/^[-:]/.test(s) ? s : JSON.stringify(s));

function routeName(prefix: string, taken: Set<string>): string {
  const slug = prefix.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  let name = slug ? `app-${slug}` : 'app';
  for (let i = 2; taken.has(name); i++) name = `${slug ? `app-${slug}` : 'app'}-${i}`;
  taken.add(name);
  return name;
}

/**
 * Renders `/etc/ztproxy/ztproxy.yaml` for a proxy host, with keys from
 * DESIGN.md's config sketch only: listen on every address (nftables decides
 * who reaches it), TLS material under `tlsDir`, and one route per
 * proxy → app rule to the app hosts' wg addresses, longest path prefix first
 * (the first matching route wins).
 */
export function renderZtproxyConfig(inv: Inventory, view: HostView, tlsDir: string): string {
  const listenPort = view.publicInbound.find((r) => r.rule.proto === 'tcp')?.rule.port ?? 443;
  const routes = view.outbound
    .filter((r) => r.rule.to === 'app' && r.rule.proto === 'tcp')
    .map((r) => ({ prefix: r.rule.pathPrefix ?? DEFAULT_PATH_PREFIX, port: r.rule.port, index: r.index, apps: r.members }))
    .sort((a, b) => b.prefix.length - a.prefix.length || a.index - b.index);
  const taken = new Set<string>();
  const lines = [
    `# ztproxy.yaml of ${view.host.name} (role proxy), rendered by \`ztproxy hosts render\`. Re-render instead of editing.`,
    `# Listens on every address: nftables admits tcp/${listenPort} from anywhere on the public side, and wg0 traffic only per the inventory.`,
    `listen: 0.0.0.0:${listenPort}`,
    'tls:',
    `  cert: ${q(`${tlsDir}/server.crt`)}`,
    `  key: ${q(`${tlsDir}/server.key`)}`,
    `  clientCA: ${q(`${tlsDir}/ca.crt`)}`,
    'routes:',
  ];
  for (const r of routes) {
    lines.push(
      `  - name: ${routeName(r.prefix, taken)}`,
      `    pathPrefix: ${q(r.prefix)}`,
      '    upstream:',
      `      # Plain HTTP, on purpose: these are wg0 addresses, and WireGuard encrypts and authenticates`,
      `      # this hop; each app host's nftables admits tcp/${r.port} only from the proxies' wg addresses (rules[${r.index}]).`,
      '      urls:',
      ...r.apps.map((a) => `        - http://${a.address}:${r.port}`),
      '      insecurePlaintext: true',
    );
  }
  if (!routes.length) lines[lines.length - 1] = 'routes: []  # no proxy -> app rule in the inventory';
  return `${lines.join('\n')}\n`;
}
