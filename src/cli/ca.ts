/**
 * `ztproxy ca …`: parses flags, calls src/ca, prints. No logic of its own.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { ZtpError } from '../errors.js';
import { parseDurationSeconds } from '../util/duration.js';
import {
  initCA,
  initIntermediateCA,
  issueClient,
  issueServer,
  signCsr,
  revoke,
  writeCrl,
  listCertificates,
  formatTable,
  renewCertificate,
  runRenewDaemon,
  resolveDir,
  CA_CHAIN_FILE,
  KEY_TYPES,
  REVOCATION_REASONS,
  type RevocationReason,
} from '../ca/index.js';

type Args = Record<string, unknown>;

const str = (a: Args, k: string): string | undefined => (typeof a[k] === 'string' ? (a[k] as string) : undefined);
const strs = (a: Args, k: string): string[] => (Array.isArray(a[k]) ? (a[k] as unknown[]).map(String) : typeof a[k] === 'string' ? [a[k] as string] : []);

function need(a: Args, k: string, cmd: string): string {
  const v = str(a, k);
  if (v === undefined || v === '') throw new ZtpError('ZTP_USAGE', `ca ${cmd} needs --${k}`);
  return v;
}

/** Reads a passphrase file: its content without one trailing newline. */
async function secret(path: string | undefined, flag: string): Promise<string | undefined> {
  if (path === undefined) return undefined;
  try {
    return (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
  } catch (cause) {
    throw new ZtpError('ZTP_CA_INVALID_INPUT', `${flag}: cannot read ${path}`, { cause });
  }
}

const ttl = (a: Args): number | undefined => (str(a, 'ttl') === undefined ? undefined : parseDurationSeconds(str(a, 'ttl')!, '--ttl'));
const out = (line: string): void => void process.stdout.write(line + '\n');

/**
 * main.ts's `.fail()` records a usage error but lets the handler run; a
 * command that writes keys must not run on a mistyped flag, so ca
 * subcommands turn usage errors into a thrown `ZTP_USAGE` (exit 2) instead.
 */
function strictFail(y: Argv): Argv {
  return y.fail((msg, err) => {
    throw err ?? new ZtpError('ZTP_USAGE', msg);
  });
}

function withDir(y: Argv): Argv {
  return strictFail(y)
    .option('dir', { type: 'string', describe: 'CA store directory (default: $ZTPROXY_CA_DIR)' })
    .option('passphrase-file', { type: 'string', describe: 'file holding the passphrase of ca.key, when encrypted' });
}

const init: CommandModule<object, Args> = {
  command: 'init',
  describe: 'create a root CA store: ca.crt, ca.key, index.json, crl.pem',
  builder: (y) =>
    withDir(y)
      .option('name', { type: 'string', describe: 'CA common name', default: 'ztproxy Internal CA' })
      .option('key-type', { type: 'string', describe: `one of ${KEY_TYPES.join(', ')}`, default: 'ec-p256' })
      .option('ttl', { type: 'string', describe: 'lifetime', default: '10y' })
      .option('permit-dns', { type: 'string', array: true, describe: 'name constraint: permitted DNS subtree (repeatable), e.g. .internal' })
      .option('permit-ip', { type: 'string', array: true, describe: 'name constraint: permitted IP range (repeatable), e.g. 10.100.0.0/16' })
      .option('crl-url', { type: 'string', describe: 'CRL distribution point URL, saved as the default for every certificate this CA issues' }) as Argv<Args>,
  handler: async (a) => {
    const r = await initCA({
      dir: resolveDir(str(a, 'dir')),
      name: str(a, 'name'),
      keyType: str(a, 'key-type'),
      ttlSeconds: ttl(a),
      passphrase: await secret(str(a, 'passphrase-file'), '--passphrase-file'),
      permitDns: strs(a, 'permit-dns'),
      permitIp: strs(a, 'permit-ip'),
      crlUrl: str(a, 'crl-url'),
    });
    out(`created CA in ${r.dir}: ${r.certPath} (trust anchor), ${r.keyPath} (keep secret), ${r.crlPath}`);
  },
};

const initIntermediate: CommandModule<object, Args> = {
  command: 'init-intermediate',
  describe: 'create an intermediate CA store signed by the CA in --parent',
  builder: (y) =>
    withDir(y)
      .option('parent', { type: 'string', describe: 'store of the issuing CA' })
      .option('parent-passphrase-file', { type: 'string', describe: 'passphrase of the parent key, when encrypted' })
      .option('name', { type: 'string', describe: 'CA common name' })
      .option('key-type', { type: 'string', describe: `one of ${KEY_TYPES.join(', ')}`, default: 'ec-p256' })
      .option('ttl', { type: 'string', describe: 'lifetime (default 5y)' }) as Argv<Args>,
  handler: async (a) => {
    const r = await initIntermediateCA({
      dir: resolveDir(str(a, 'dir')),
      parentDir: need(a, 'parent', 'init-intermediate'),
      parentPassphrase: await secret(str(a, 'parent-passphrase-file'), '--parent-passphrase-file'),
      name: str(a, 'name'),
      keyType: str(a, 'key-type'),
      ttlSeconds: ttl(a),
      passphrase: await secret(str(a, 'passphrase-file'), '--passphrase-file'),
    });
    out(`created intermediate CA in ${r.dir}: ${r.certPath}, chain ${join(r.dir, CA_CHAIN_FILE)}`);
  },
};

const issueClientCmd: CommandModule<object, Args> = {
  command: 'issue-client',
  describe: 'issue a client certificate (clientAuth): CN.crt, CN.key, CN.p12',
  builder: (y) =>
    withDir(y)
      .option('cn', { type: 'string', describe: 'common name' })
      .option('ou', { type: 'string', array: true, describe: 'organizational unit (repeatable)' })
      .option('o', { type: 'string', describe: 'organization' })
      .option('email', { type: 'string', describe: 'email SAN' })
      .option('uri', { type: 'string', array: true, describe: 'URI SAN, e.g. a SPIFFE ID (repeatable)' })
      .option('ttl', { type: 'string', describe: 'lifetime (default 8h)' })
      .option('out-dir', { type: 'string', describe: 'output directory', default: '.' })
      .option('p12-passphrase-file', { type: 'string', describe: 'password of the .p12 (default "changeit")' })
      .option('crl-url', { type: 'string', describe: 'CRL distribution point URL put in the certificate (default: the store\'s, from ca init --crl-url)' }) as Argv<Args>,
  handler: async (a) => {
    const dir = resolveDir(str(a, 'dir'));
    const r = await issueClient({
      dir,
      cn: need(a, 'cn', 'issue-client'),
      ou: strs(a, 'ou'),
      o: str(a, 'o'),
      email: str(a, 'email'),
      uri: strs(a, 'uri'),
      ttlSeconds: ttl(a),
      outDir: str(a, 'out-dir'),
      passphrase: await secret(str(a, 'passphrase-file'), '--passphrase-file'),
      p12Passphrase: await secret(str(a, 'p12-passphrase-file'), '--p12-passphrase-file'),
      crlUrl: str(a, 'crl-url'),
    });
    out(`issued ${r.subject} serial ${r.serial}, valid until ${r.notAfter.toISOString()}`);
    // A password the operator chose is never printed; the default is, with what it is.
    const password = str(a, 'p12-passphrase-file') === undefined ? `password ${JSON.stringify(r.p12Password)}, the default: choose one with --p12-passphrase-file` : 'password from --p12-passphrase-file';
    out(`wrote ${r.certPath} (certificate + chain), ${r.keyPath}, ${r.p12Path} (${password})`);
    out(`try: curl --cert ${r.certPath} --key ${r.keyPath} --cacert ${join(dir, CA_CHAIN_FILE)} https://localhost:8443/`);
  },
};

const issueServerCmd: CommandModule<object, Args> = {
  command: 'issue-server',
  describe: 'issue a server certificate (serverAuth) with DNS and IP SANs: NAME.crt, NAME.key',
  builder: (y) =>
    withDir(y)
      .option('dns', { type: 'string', array: true, describe: 'DNS name (repeatable; the first names the files)' })
      .option('ip', { type: 'string', array: true, describe: 'IP address SAN (repeatable)' })
      .option('ttl', { type: 'string', describe: 'lifetime (default 90d)' })
      .option('out-dir', { type: 'string', describe: 'output directory', default: '.' })
      .option('crl-url', { type: 'string', describe: 'CRL distribution point URL put in the certificate (default: the store\'s, from ca init --crl-url)' }) as Argv<Args>,
  handler: async (a) => {
    const dns = strs(a, 'dns');
    if (dns.length === 0) throw new ZtpError('ZTP_USAGE', 'ca issue-server needs --dns');
    const r = await issueServer({
      dir: resolveDir(str(a, 'dir')),
      dns,
      ip: strs(a, 'ip'),
      ttlSeconds: ttl(a),
      outDir: str(a, 'out-dir'),
      passphrase: await secret(str(a, 'passphrase-file'), '--passphrase-file'),
      crlUrl: str(a, 'crl-url'),
    });
    out(`issued ${r.subject} serial ${r.serial}, valid until ${r.notAfter.toISOString()}`);
    out(`wrote ${r.certPath} (certificate + chain), ${r.keyPath}`);
  },
};

const signCsrCmd: CommandModule<object, Args> = {
  command: 'sign-csr',
  describe: 'sign a PKCS#10 request (subject copied verbatim, SANs from the request)',
  builder: (y) =>
    withDir(y)
      .option('csr', { type: 'string', describe: 'request file (PEM or DER)' })
      .option('profile', { type: 'string', describe: 'client or server' })
      .option('ttl', { type: 'string', describe: 'lifetime (default 8h client, 90d server)' })
      .option('out', { type: 'string', describe: 'certificate + chain output file (default: stdout)' })
      .option('crl-url', { type: 'string', describe: 'CRL distribution point URL put in the certificate (default: the store\'s, from ca init --crl-url)' }) as Argv<Args>,
  handler: async (a) => {
    const csrPath = need(a, 'csr', 'sign-csr');
    const profile = need(a, 'profile', 'sign-csr');
    let csr: Buffer;
    try {
      csr = await readFile(csrPath);
    } catch (cause) {
      throw new ZtpError('ZTP_CA_INVALID_INPUT', `--csr: cannot read ${csrPath}`, { cause });
    }
    const text = csr.toString('latin1');
    const r = await signCsr({
      dir: resolveDir(str(a, 'dir')),
      csr: text.includes('-----BEGIN') ? text : csr,
      profile: profile as 'client' | 'server',
      ttlSeconds: ttl(a),
      outPath: str(a, 'out'),
      passphrase: await secret(str(a, 'passphrase-file'), '--passphrase-file'),
      crlUrl: str(a, 'crl-url'),
    });
    if (r.certPath) process.stderr.write(`issued ${r.subject} serial ${r.serial} into ${r.certPath}\n`);
    else process.stdout.write(r.certPem);
  },
};

const revokeCmd: CommandModule<object, Args> = {
  command: 'revoke',
  describe: 'revoke by serial or CN and re-sign the CRL',
  builder: (y) =>
    withDir(y)
      .option('serial', { type: 'string', describe: 'serial in hex' })
      .option('cn', { type: 'string', describe: 'revoke every valid certificate with this CN' })
      .option('reason', { type: 'string', describe: `one of ${REVOCATION_REASONS.join(', ')}` }) as Argv<Args>,
  handler: async (a) => {
    if ((str(a, 'serial') === undefined) === (str(a, 'cn') === undefined)) throw new ZtpError('ZTP_USAGE', 'ca revoke needs exactly one of --serial or --cn');
    const r = await revoke({
      dir: resolveDir(str(a, 'dir')),
      serial: str(a, 'serial'),
      cn: str(a, 'cn'),
      reason: str(a, 'reason') as RevocationReason | undefined,
      passphrase: await secret(str(a, 'passphrase-file'), '--passphrase-file'),
    });
    for (const e of r.revoked) out(`revoked ${e.serial} ${e.subject}`);
    out(`CRL re-signed: ${r.crlPath}`);
  },
};

const crlCmd: CommandModule<object, Args> = {
  command: 'crl',
  describe: 're-sign crl.pem (run before its next update)',
  builder: (y) => withDir(y).option('next-update', { type: 'string', describe: 'CRL lifetime', default: '7d' }) as Argv<Args>,
  handler: async (a) => {
    const r = await writeCrl({
      dir: resolveDir(str(a, 'dir')),
      nextUpdateSeconds: parseDurationSeconds(str(a, 'next-update') ?? '7d', '--next-update'),
      passphrase: await secret(str(a, 'passphrase-file'), '--passphrase-file'),
    });
    out(`CRL signed: ${r.crlPath}`);
  },
};

const renewCmd: CommandModule<object, Args> = {
  command: 'renew',
  describe: 're-issue a certificate with the same subject, SANs and key, atomically over --cert',
  builder: (y) =>
    withDir(y)
      .option('cert', { type: 'string', describe: 'certificate file to renew' })
      .option('key', { type: 'string', describe: 'its private key' })
      .option('ttl', { type: 'string', describe: 'lifetime (default: the current one)' })
      .option('daemon', { type: 'boolean', describe: 'keep running: renew at 2/3 of each lifetime', default: false })
      .option('exec', { type: 'string', describe: 'command run after each renewal (/bin/sh -c)' }) as Argv<Args>,
  handler: async (a) => {
    const opts = {
      certPath: need(a, 'cert', 'renew'),
      keyPath: need(a, 'key', 'renew'),
      dir: resolveDir(str(a, 'dir')),
      ttlSeconds: ttl(a),
      passphrase: await secret(str(a, 'passphrase-file'), '--passphrase-file'),
    };
    if (!a.daemon) {
      const r = await renewCertificate(opts);
      out(`renewed ${r.certPath}: serial ${r.serial}, valid until ${r.notAfter.toISOString()}`);
      return;
    }
    const ac = new AbortController();
    const stop = (): void => ac.abort();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    try {
      await runRenewDaemon({ ...opts, signal: ac.signal, ...(str(a, 'exec') && { exec: str(a, 'exec')! }) });
    } finally {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
    }
  },
};

const listCmd: CommandModule<object, Args> = {
  command: 'list',
  describe: 'list issued certificates, soonest expiry first',
  builder: (y) => strictFail(y).option('dir', { type: 'string', describe: 'CA store directory (default: $ZTPROXY_CA_DIR)' }).option('json', { type: 'boolean', default: false, describe: 'JSON array' }) as Argv<Args>,
  handler: async (a) => {
    const rows = await listCertificates({ dir: resolveDir(str(a, 'dir')) });
    process.stdout.write(a.json ? JSON.stringify(rows, null, 2) + '\n' : formatTable(rows));
  },
};

/** `ztproxy ca`: the X.509 certificate authority. */
export const caCommand: CommandModule<object, object> = {
  command: 'ca',
  describe: 'X.509 CA: init, issue client/server certificates, sign CSRs, revoke, CRL, renew, list',
  builder: (y: Argv) =>
    y
      .command(init)
      .command(initIntermediate)
      .command(issueClientCmd)
      .command(issueServerCmd)
      .command(signCsrCmd)
      .command(revokeCmd)
      .command(crlCmd)
      .command(renewCmd)
      .command(listCmd)
      .demandCommand(1, 'name a ca subcommand: init, init-intermediate, issue-client, issue-server, sign-csr, revoke, crl, renew, list'),
  handler: () => {},
};
