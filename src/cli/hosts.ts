import { dirname, join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { ZtpError } from '../errors.js';
import { loadInventory, renderHosts, writeRendered } from '../hosts/index.js';

interface RenderArgs {
  inventory: string;
  'out-dir': string;
  'keys-dir'?: string;
  'path-prefix'?: string;
}

const renderCommand: CommandModule<object, RenderArgs> = {
  command: 'render',
  describe: 'render wg0.conf, nftables.conf, the sshd snippet and ztproxy.yaml for every host of an inventory',
  builder: (y: Argv) =>
    y
      .option('inventory', { type: 'string', demandOption: true, describe: 'inventory YAML (see config/hosts.example.yaml)' })
      .option('out-dir', { type: 'string', demandOption: true, describe: 'output directory: one subdirectory per host' })
      .option('keys-dir', { type: 'string', describe: 'WireGuard keys, reused across renders (default: wg-keys/ next to the inventory)' })
      .option('path-prefix', { type: 'string', describe: 'prefix for the absolute paths inside rendered files (staging trees, tests)' }) as Argv<RenderArgs>,
  handler: async (args) => {
    // main.ts's yargs .fail() records usage errors without stopping the handler: guard the required flags here.
    if (typeof args.inventory !== 'string' || typeof args['out-dir'] !== 'string') {
      throw new ZtpError('ZTP_USAGE', 'hosts render needs --inventory FILE and --out-dir DIR');
    }
    const inventory = await loadInventory(args.inventory);
    const keysDir = args['keys-dir'] ?? join(dirname(args.inventory), 'wg-keys');
    const files = await renderHosts(inventory, { keysDir, pathPrefix: args['path-prefix'] ?? '' });
    const written = await writeRendered(args['out-dir'], files);
    process.stdout.write(`rendered ${written.length} files for ${inventory.hosts.length} hosts into ${args['out-dir']} (keys: ${keysDir})\n`);
  },
};

/** `ztproxy hosts`: render host configs from an inventory. */
export const hostsCommand: CommandModule<object, object> = {
  command: 'hosts',
  describe: 'render host configs (WireGuard, nftables, sshd, ztproxy) from an inventory',
  builder: (y: Argv) => y.command(renderCommand).demandCommand(1, 'name a hosts subcommand: render'),
  handler: () => {},
};
