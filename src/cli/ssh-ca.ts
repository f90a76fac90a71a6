import type { CommandModule } from 'yargs';

/** `ztproxy ssh-ca`: not implemented yet. */
export const sshCaCommand: CommandModule<object, object> = {
  command: 'ssh-ca',
  describe: 'ssh-ca (not implemented yet)',
  handler: () => {},
};
