import type { CommandModule } from 'yargs';
import { serveCommand } from './serve.js';
import { caCommand } from './ca.js';
import { sshCaCommand } from './ssh-ca.js';
import { hostsCommand } from './hosts.js';
import { policyCommand } from './policy.js';

/** Every command group, in the order `--help` lists them. */
export const commands: CommandModule<object, any>[] = [serveCommand, caCommand, sshCaCommand, hostsCommand, policyCommand];
