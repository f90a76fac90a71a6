import { dirname, join } from 'node:path';
import { loadInventory, renderHosts, writeRendered } from '../hosts/index.js';
import { command, group } from './command.js';

const renderCommand = command({
  command: 'render',
  describe: 'render wg0.conf, nftables.conf, the sshd snippet and ztproxy.yaml for every host of an inventory',
  builder: (y) =>
    y.options({
      inventory: { type: 'string', demandOption: true, describe: 'inventory YAML (see config/hosts.example.yaml)' },
      'out-dir': { type: 'string', demandOption: true, describe: 'output directory: one subdirectory per host' },
      'keys-dir': { type: 'string', describe: 'WireGuard keys, reused across renders (default: wg-keys/ next to the inventory)' },
      'path-prefix': { type: 'string', describe: 'prefix for the absolute paths inside rendered files (staging trees, tests)' },
    }),
  handler: async (a) => {
    const inventory = await loadInventory(a.inventory);
    const keysDir = a['keys-dir'] ?? join(dirname(a.inventory), 'wg-keys');
    const files = await renderHosts(inventory, { keysDir, pathPrefix: a['path-prefix'] ?? '' });
    const written = await writeRendered(a['out-dir'], files);
    process.stdout.write(`rendered ${written.length} files for ${inventory.hosts.length} hosts into ${a['out-dir']} (keys: ${keysDir})\n`);
  },
});

/** `ztproxy hosts`: render host configs from an inventory. */
export const hostsCommand = group({
  command: 'hosts',
  describe: 'render host configs (WireGuard, nftables, sshd, ztproxy) from an inventory',
  commands: [renderCommand],
  demand: 'name a hosts subcommand: render',
});
