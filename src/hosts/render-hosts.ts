import { posix } from 'node:path';
import { ZtpError } from '../util/index.js';
import { renderNftables } from './nftables.js';
import type { Inventory } from './schema.js';
import { renderPrincipalsFile, renderSshdSnippet } from './sshd.js';
import { buildTopology } from './topology.js';
import { renderWgConf } from './wg.js';
import { loadOrCreateWgKeys } from './wg-keys.js';
import { renderZtproxyConfig } from './ztproxy-config.js';

/** One rendered file: its text and the mode it must be written with. */
export interface RenderedFile {
  content: string;
  mode: number;
}

export interface RenderHostsOptions {
  /** Where WireGuard keys are kept (`<host>.key` 0600, `<host>.pub`). Missing keys are generated there. */
  keysDir: string;
  /**
   * Prepended to every absolute path the rendered files refer to (the sshd CA
   * key, revocation list and principals directory, the proxy's TLS files).
   * Default `''`. For staging trees and tests; production renders leave it out.
   * Must be absolute, without whitespace, quotes or `#` (else `ZTP_HOSTS_INVALID`).
   */
  pathPrefix?: string;
}

/**
 * Renders every host of a validated inventory. Returns relative path →
 * file, sorted by path: `<host>/wg0.conf` (0600), `<host>/nftables.conf`,
 * `<host>/sshd_config.d/ztproxy.conf`, `<host>/auth_principals/<user>` and,
 * on proxy hosts, `<host>/ztproxy.yaml` (0644). Deterministic for the same
 * inventory and keys; its only side effect is generating missing keys in
 * `keysDir` (see loadOrCreateWgKeys), never replacing existing ones.
 */
export async function renderHosts(inv: Inventory, options: RenderHostsOptions): Promise<Map<string, RenderedFile>> {
  const prefix = options.pathPrefix ?? '';
  // sshd splits arguments on whitespace and treats quotes specially: keep prefixes plain.
  if (prefix && (!prefix.startsWith('/') || /[\s"'#]/.test(prefix))) {
    throw new ZtpError('ZTP_HOSTS_INVALID', `path prefix ${JSON.stringify(prefix)} must be an absolute path without spaces, quotes or #`);
  }
  const at = (path: string) => (prefix ? posix.join(prefix, path) : path);
  const keys = await loadOrCreateWgKeys(options.keysDir, inv.hosts.map((h) => h.name));
  const sshdPaths = { userCAKeys: at(inv.ssh.userCAKeys), revokedKeys: at(inv.ssh.revokedKeys), principalsDir: at(inv.ssh.principalsDir) };
  const files = new Map<string, RenderedFile>();
  for (const view of buildTopology(inv)) {
    const dir = view.host.name;
    files.set(`${dir}/wg0.conf`, { content: renderWgConf(inv, view, keys), mode: 0o600 });
    files.set(`${dir}/nftables.conf`, { content: renderNftables(inv, view), mode: 0o644 });
    files.set(`${dir}/sshd_config.d/ztproxy.conf`, { content: renderSshdSnippet(inv, view, sshdPaths), mode: 0o644 });
    for (const [user, principals] of view.principals) {
      files.set(`${dir}/auth_principals/${user}`, { content: renderPrincipalsFile(view, user, principals), mode: 0o644 });
    }
    if (view.host.role === 'proxy') {
      files.set(`${dir}/ztproxy.yaml`, { content: renderZtproxyConfig(inv, view, at(inv.ztproxy.dir)), mode: 0o644 });
    }
  }
  return new Map([...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
