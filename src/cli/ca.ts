import type { CommandModule } from 'yargs';

/** `ztproxy ca`: not implemented yet. */
export const caCommand: CommandModule<object, object> = {
  command: 'ca',
  describe: 'ca (not implemented yet)',
  handler: () => {},
};
