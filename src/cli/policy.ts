import type { CommandModule } from 'yargs';

/** `ztproxy policy`: not implemented yet. */
export const policyCommand: CommandModule<object, object> = {
  command: 'policy',
  describe: 'policy (not implemented yet)',
  handler: () => {},
};
