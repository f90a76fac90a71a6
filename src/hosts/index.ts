/**
 * The host kit: one inventory → per-host wg0.conf, nftables.conf, sshd
 * snippet, principals files and (proxy hosts) ztproxy.yaml. See docs/hosts.md.
 *
 *   const inv = await loadInventory('hosts.yaml');          // validate everything first
 *   const files = await renderHosts(inv, { keysDir });       // then render
 *   await writeRendered(outDir, files);                      // then write
 */
export { loadInventory, parseInventory } from './load-inventory.js';
export { validateInventory } from './validate-inventory.js';
export { renderHosts, type RenderedFile, type RenderHostsOptions } from './render-hosts.js';
export { writeRendered } from './write-rendered.js';
export { generateWgKeyPair, wgPublicKey, type WgKeyPair } from './wg-keys.js';
export { ROLES, type Inventory, type InventoryHost, type InventoryAdmin, type InventoryRule, type Role } from './schema.js';
