import type { AnyCommand } from './command.js';

export { exitCodeOf } from './command.js';

type Loader = () => Promise<AnyCommand>;

/** Every command group, in the order `--help` lists them; each loads its module (and library) on demand. */
const LOADERS: Record<string, Loader> = {
  serve: async () => (await import('./serve.js')).serveCommand,
  ca: async () => (await import('./ca.js')).caCommand,
  'ssh-ca': async () => (await import('./ssh-ca.js')).sshCaCommand,
  hosts: async () => (await import('./hosts.js')).hostsCommand,
  policy: async () => (await import('./policy.js')).policyCommand,
};

/**
 * The command modules to register for `argv`: only the named group when the
 * first word is one (so `serve` never loads the CA, SSH and host libraries:
 * less memory per worker, faster start), all of them otherwise (help, typos).
 */
export async function commandsFor(argv: readonly string[]): Promise<AnyCommand[]> {
  const first = argv[0];
  if (first !== undefined && Object.hasOwn(LOADERS, first)) return [await LOADERS[first]!()];
  return Promise.all(Object.values(LOADERS).map((load) => load()));
}
