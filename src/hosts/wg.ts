import type { Inventory } from './schema.js';
import type { HostView } from './topology.js';
import type { WgKeyPair } from './wg-keys.js';

/**
 * Renders `/etc/wireguard/wg0.conf` for one host: its interface and one
 * [Peer] per member it may talk to (either direction). AllowedIPs is the
 * peer's /32 only, so WireGuard's cryptokey routing drops any packet a peer
 * sends from another source address: nftables' `ip saddr` sets can trust the
 * source address on wg0. The file holds the private key: write it 0600.
 */
export function renderWgConf(inv: Inventory, view: HostView, keys: ReadonlyMap<string, WgKeyPair>): string {
  const prefix = inv.network.subnet.split('/')[1];
  const own = keys.get(view.host.name)!;
  const lines = [
    `# wg0.conf of ${view.host.name} (role ${view.host.role}), rendered by \`ztproxy hosts render\`.`,
    '# Re-render instead of editing. Holds the private key: keep it 0600.',
    '[Interface]',
    `Address = ${view.host.address}/${prefix}`,
    `ListenPort = ${view.listenPort}`,
    `MTU = ${inv.network.mtu}`,
    `PrivateKey = ${own.privateKey}`,
  ];
  for (const peer of view.peers) {
    const publicKey = peer.publicKey ?? keys.get(peer.name)!.publicKey;
    lines.push('', `# Peer: ${peer.name} (${peer.role ?? 'admin'})`, '[Peer]', `PublicKey = ${publicKey}`, `AllowedIPs = ${peer.address}/32`);
    if (peer.endpoint !== undefined) {
      lines.push(`Endpoint = ${peer.endpoint}`);
      if (view.persistentKeepaliveSeconds !== undefined) lines.push(`PersistentKeepalive = ${view.persistentKeepaliveSeconds}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
