import type { CommandModule } from 'yargs';

/** `ztproxy hosts`: not implemented yet. */
export const hostsCommand: CommandModule<object, object> = {
  command: 'hosts',
  describe: 'hosts (not implemented yet)',
  handler: () => {},
};
