import {
  CA_KEY_TYPES, DEFAULT_TTL, initSshCA, listSshCertificates, revokeSshKey, signSshKey,
  type SshCertificateEntry,
} from '../sshca/index.js';
import { command, exactlyOne, group } from './command.js';

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

const dirOption = { type: 'string', demandOption: true, describe: 'SSH CA directory (user_ca, user_ca.pub, revoked_keys, index.json)' } as const;

const initCommand = command({
  command: 'init',
  describe: 'create an SSH user CA in --dir (refuses to overwrite)',
  builder: (y) =>
    y.options({
      dir: dirOption,
      'key-type': { type: 'string', choices: CA_KEY_TYPES, default: 'ed25519' as const, describe: 'CA key type' },
    }),
  handler: async (a) => {
    const r = await initSshCA({ dir: a.dir, keyType: a['key-type'] });
    out(`created SSH CA in ${r.dir} (${r.keyType}, ${r.fingerprint})`);
    out(`sshd_config: TrustedUserCAKeys ${r.paths.publicKey}`);
    out(`sshd_config: RevokedKeys ${r.paths.revokedKeys}`);
  },
});

const signCommand = command({
  command: 'sign',
  describe: 'sign a public key; writes <key without .pub>-cert.pub beside it',
  builder: (y) =>
    y.options({
      dir: dirOption,
      key: { type: 'string', demandOption: true, describe: 'public key file to sign (id_ed25519.pub)' },
      identity: { type: 'string', demandOption: true, describe: 'certificate key id, logged by sshd' },
      principals: { type: 'string', demandOption: true, describe: 'comma-separated user (or host) names, e.g. root,dev' },
      ttl: { type: 'string', default: DEFAULT_TTL, describe: 'validity, e.g. 8h, 30m, 7d' },
      host: { type: 'boolean', default: false, describe: 'issue a host certificate instead of a user certificate' },
    }),
  handler: async (a) => {
    const r = await signSshKey({ dir: a.dir, keyPath: a.key, identity: a.identity, principals: a.principals, ttl: a.ttl, host: a.host });
    out(`signed ${r.certType} key ${a.key}: ${r.certificatePath}`);
    out(`serial ${r.serial}, key id ${JSON.stringify(r.keyId)}, principals ${r.principals.join(',')}, valid ${r.validAfter} to ${r.validBefore}`);
  },
});

const revokeCommand = command({
  command: 'revoke',
  describe: 'revoke a key (--key) or a certificate (--serial); rewrites revoked_keys',
  builder: (y) =>
    exactlyOne(
      y.options({
        dir: dirOption,
        key: { type: 'string', describe: 'public key file: the key and every certificate for it' },
        serial: { type: 'number', describe: 'certificate serial' },
      }),
      'key',
      'serial',
    ),
  handler: async (a) => {
    const r = await revokeSshKey({ dir: a.dir, ...(a.key !== undefined ? { keyPath: a.key } : {}), ...(a.serial !== undefined ? { serial: a.serial } : {}) });
    if (r.revokedKey) out(`revoked key ${r.revokedKey}`);
    out(`revoked serials: ${r.revokedSerials.length ? r.revokedSerials.join(',') : '(none new)'}; revoked_keys is KRL version ${r.krlVersion}`);
  },
});

function row(c: SshCertificateEntry): string {
  return [String(c.serial).padStart(6), c.status.padEnd(13), c.certType.padEnd(4), c.validBefore.padEnd(24), c.fingerprint, JSON.stringify(c.keyId), c.principals.join(',')].join('  ');
}

const listCommand = command({
  command: 'list',
  describe: 'list issued certificates and their status',
  builder: (y) => y.options({ dir: dirOption, json: { type: 'boolean', default: false, describe: 'print JSON' } }),
  handler: async (a) => {
    const list = await listSshCertificates({ dir: a.dir });
    if (a.json) {
      out(JSON.stringify(list, null, 2));
      return;
    }
    out(['serial'.padStart(6), 'status'.padEnd(13), 'type', 'valid before'.padEnd(24), 'fingerprint'.padEnd(50), 'key id', 'principals'].join('  '));
    for (const c of list) out(row(c));
  },
});

/** `ztproxy ssh-ca init|sign|revoke|list`: parses, calls src/sshca, prints. */
export const sshCaCommand = group({
  command: 'ssh-ca',
  describe: 'SSH user/host certificate authority: init, sign, revoke, list',
  commands: [initCommand, signCommand, revokeCommand, listCommand],
  demand: 'name an ssh-ca command: init, sign, revoke or list',
});
