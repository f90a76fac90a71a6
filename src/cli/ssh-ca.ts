import type { Argv, CommandModule } from 'yargs';
import { ZtpError } from '../errors.js';
import {
  CA_KEY_TYPES, DEFAULT_TTL, initSshCA, listSshCertificates, revokeSshKey, signSshKey,
  type CaKeyType, type SshCertificateEntry,
} from '../sshca/index.js';

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

const dirOption = { type: 'string', demandOption: true, describe: 'SSH CA directory (user_ca, user_ca.pub, revoked_keys, index.json)' } as const;

const initCommand: CommandModule<object, { dir: string; 'key-type': string }> = {
  command: 'init',
  describe: 'create an SSH user CA in --dir (refuses to overwrite)',
  builder: (y: Argv) =>
    y.options({
      dir: dirOption,
      'key-type': { type: 'string', choices: CA_KEY_TYPES, default: 'ed25519', describe: 'CA key type' },
    }) as unknown as Argv<{ dir: string; 'key-type': string }>,
  handler: async (a) => {
    const r = await initSshCA({ dir: a.dir, keyType: a['key-type'] as CaKeyType });
    out(`created SSH CA in ${r.dir} (${r.keyType}, ${r.fingerprint})`);
    out(`sshd_config: TrustedUserCAKeys ${r.paths.publicKey}`);
    out(`sshd_config: RevokedKeys ${r.paths.revokedKeys}`);
  },
};

interface SignArgs { dir: string; key: string; identity: string; principals: string; ttl: string; host: boolean }
const signCommand: CommandModule<object, SignArgs> = {
  command: 'sign',
  describe: 'sign a public key; writes <key without .pub>-cert.pub beside it',
  builder: (y: Argv) =>
    y.options({
      dir: dirOption,
      key: { type: 'string', demandOption: true, describe: 'public key file to sign (id_ed25519.pub)' },
      identity: { type: 'string', demandOption: true, describe: 'certificate key id, logged by sshd' },
      principals: { type: 'string', demandOption: true, describe: 'comma-separated user (or host) names, e.g. root,dev' },
      ttl: { type: 'string', default: DEFAULT_TTL, describe: 'validity, e.g. 8h, 30m, 7d' },
      host: { type: 'boolean', default: false, describe: 'issue a host certificate instead of a user certificate' },
    }) as unknown as Argv<SignArgs>,
  handler: async (a) => {
    const r = await signSshKey({ dir: a.dir, keyPath: a.key, identity: a.identity, principals: a.principals, ttl: a.ttl, host: a.host });
    out(`signed ${r.certType} key ${a.key}: ${r.certificatePath}`);
    out(`serial ${r.serial}, key id ${JSON.stringify(r.keyId)}, principals ${r.principals.join(',')}, valid ${r.validAfter} to ${r.validBefore}`);
  },
};

interface RevokeArgs { dir: string; key?: string; serial?: number }
const revokeCommand: CommandModule<object, RevokeArgs> = {
  command: 'revoke',
  describe: 'revoke a key (--key) or a certificate (--serial); rewrites revoked_keys',
  builder: (y: Argv) =>
    y
      .options({
        dir: dirOption,
        key: { type: 'string', describe: 'public key file: the key and every certificate for it' },
        serial: { type: 'number', describe: 'certificate serial' },
      })
      // "neither" is refused by revokeSshKey (ZTP_SSHCA_INVALID_INPUT, exit 2).
      .conflicts('key', 'serial') as unknown as Argv<RevokeArgs>,
  handler: async (a) => {
    const r = await revokeSshKey({ dir: a.dir, ...(a.key !== undefined ? { keyPath: a.key } : {}), ...(a.serial !== undefined ? { serial: a.serial } : {}) });
    if (r.revokedKey) out(`revoked key ${r.revokedKey}`);
    out(`revoked serials: ${r.revokedSerials.length ? r.revokedSerials.join(',') : '(none new)'}; revoked_keys is KRL version ${r.krlVersion}`);
  },
};

function row(c: SshCertificateEntry): string {
  return [String(c.serial).padStart(6), c.status.padEnd(13), c.certType.padEnd(4), c.validBefore.padEnd(24), c.fingerprint, JSON.stringify(c.keyId), c.principals.join(',')].join('  ');
}

const listCommand: CommandModule<object, { dir: string; json: boolean }> = {
  command: 'list',
  describe: 'list issued certificates and their status',
  builder: (y: Argv) =>
    y.options({ dir: dirOption, json: { type: 'boolean', default: false, describe: 'print JSON' } }) as unknown as Argv<{ dir: string; json: boolean }>,
  handler: async (a) => {
    const list = await listSshCertificates({ dir: a.dir });
    if (a.json) {
      out(JSON.stringify(list, null, 2));
      return;
    }
    out(['serial'.padStart(6), 'status'.padEnd(13), 'type', 'valid before'.padEnd(24), 'fingerprint'.padEnd(50), 'key id', 'principals'].join('  '));
    for (const c of list) out(row(c));
  },
};

/** `ztproxy ssh-ca init|sign|revoke|list`: parses, calls src/sshca, prints. */
export const sshCaCommand: CommandModule<object, object> = {
  command: 'ssh-ca',
  describe: 'SSH user/host certificate authority: init, sign, revoke, list',
  builder: (y: Argv) =>
    y
      .command(initCommand)
      .command(signCommand)
      .command(revokeCommand)
      .command(listCommand)
      .demandCommand(1, 'name an ssh-ca command: init, sign, revoke or list')
      // Throwing here stops yargs: a fail handler that only records the message
      // lets the command handler run anyway (a sign with a typo'd flag would
      // still issue a certificate).
      .fail((msg, err) => {
        if (err) throw err;
        throw new ZtpError('ZTP_USAGE', `${msg} (run "ztproxy ssh-ca --help")`);
      }),
  handler: () => {},
};
