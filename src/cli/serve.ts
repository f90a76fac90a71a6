import type { CommandModule } from 'yargs';

/** `ztproxy serve`: not implemented yet. */
export const serveCommand: CommandModule<object, object> = {
  command: 'serve',
  describe: 'serve (not implemented yet)',
  handler: () => {},
};
