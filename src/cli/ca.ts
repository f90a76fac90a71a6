/**
 * `ztproxy ca …`: parses flags, calls src/ca, prints. No logic of its own.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ZtpError } from '../util/index.js';
import { parseDurationSeconds } from '../util/index.js';
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
} from '../ca/index.js';
import { command, exactlyOne, group, oneOf, required, requiredList } from './command.js';

/** Reads a passphrase file: its content without one trailing newline. */
async function secret(path: string | undefined, flag: string): Promise<string | undefined> {
  if (path === undefined) return undefined;
  try {
    return (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
  } catch (cause) {
    throw new ZtpError('ZTP_CA_INVALID_INPUT', `${flag}: cannot read ${path}`, { cause });
  }
}

const out = (line: string): void => void process.stdout.write(line + '\n');
const ttlSeconds = (ttl: string | undefined): number | undefined => (ttl === undefined ? undefined : parseDurationSeconds(ttl, '--ttl'));

const dirOption = { type: 'string', describe: 'CA store directory (default: $ZTPROXY_CA_DIR)' } as const;

/** The flags of every command that opens the CA key. */
const storeOptions = {
  dir: dirOption,
  'passphrase-file': { type: 'string', describe: 'file holding the passphrase of ca.key, when encrypted' },
} as const;

/** The store directory and the passphrase of its key, from `storeOptions`. */
async function store(a: { dir: string | undefined; 'passphrase-file': string | undefined }): Promise<{ dir: string; passphrase: string | undefined }> {
  const dir = resolveDir(a.dir);
  return { dir, passphrase: await secret(a['passphrase-file'], '--passphrase-file') };
}

const keyTypeOption = { type: 'string', describe: `one of ${KEY_TYPES.join(', ')}`, default: 'ec-p256' } as const;
const outDirOption = { type: 'string', describe: 'output directory', default: '.' } as const;
const leafCrlUrlOption = { type: 'string', describe: 'CRL distribution point URL put in the certificate (default: the store\'s, from ca init --crl-url)' } as const;

const init = command({
  command: 'init',
  describe: 'create a root CA store: ca.crt, ca.key, index.json, crl.pem',
  builder: (y) =>
    y.options({
      ...storeOptions,
      name: { type: 'string', describe: 'CA common name', default: 'ztproxy Internal CA' },
      'key-type': keyTypeOption,
      ttl: { type: 'string', describe: 'lifetime', default: '10y' },
      'permit-dns': { type: 'string', array: true, describe: 'name constraint: permitted DNS subtree (repeatable), e.g. .internal' },
      'permit-ip': { type: 'string', array: true, describe: 'name constraint: permitted IP range (repeatable), e.g. 10.100.0.0/16' },
      'crl-url': { type: 'string', describe: 'CRL distribution point URL, saved as the default for every certificate this CA issues' },
    }),
  handler: async (a) => {
    const r = await initCA({
      ...(await store(a)),
      name: a.name,
      keyType: a['key-type'],
      ttlSeconds: ttlSeconds(a.ttl),
      permitDns: a['permit-dns'] ?? [],
      permitIp: a['permit-ip'] ?? [],
      crlUrl: a['crl-url'],
    });
    out(`created CA in ${r.dir}: ${r.certPath} (trust anchor), ${r.keyPath} (keep secret), ${r.crlPath}`);
  },
});

const initIntermediate = command({
  command: 'init-intermediate',
  describe: 'create an intermediate CA store signed by the CA in --parent',
  builder: (y) =>
    y.options({
      ...storeOptions,
      parent: required('parent', 'store of the issuing CA'),
      'parent-passphrase-file': { type: 'string', describe: 'passphrase of the parent key, when encrypted' },
      name: { type: 'string', describe: 'CA common name' },
      'key-type': keyTypeOption,
      ttl: { type: 'string', describe: 'lifetime (default 5y)' },
    }),
  handler: async (a) => {
    const r = await initIntermediateCA({
      ...(await store(a)),
      parentDir: a.parent,
      parentPassphrase: await secret(a['parent-passphrase-file'], '--parent-passphrase-file'),
      name: a.name,
      keyType: a['key-type'],
      ttlSeconds: ttlSeconds(a.ttl),
    });
    out(`created intermediate CA in ${r.dir}: ${r.certPath}, chain ${join(r.dir, CA_CHAIN_FILE)}`);
  },
});

const issueClientCmd = command({
  command: 'issue-client',
  describe: 'issue a client certificate (clientAuth): CN.crt, CN.key, CN.p12',
  builder: (y) =>
    y.options({
      ...storeOptions,
      cn: required('cn', 'common name'),
      ou: { type: 'string', array: true, describe: 'organizational unit (repeatable)' },
      o: { type: 'string', describe: 'organization' },
      email: { type: 'string', describe: 'email SAN' },
      uri: { type: 'string', array: true, describe: 'URI SAN, e.g. a SPIFFE ID (repeatable)' },
      ttl: { type: 'string', describe: 'lifetime (default 8h)' },
      'out-dir': outDirOption,
      'p12-passphrase-file': { type: 'string', describe: 'password of the .p12 (default "changeit")' },
      'crl-url': leafCrlUrlOption,
    }),
  handler: async (a) => {
    const { dir, passphrase } = await store(a);
    const r = await issueClient({
      dir,
      passphrase,
      cn: a.cn,
      ou: a.ou ?? [],
      o: a.o,
      email: a.email,
      uri: a.uri ?? [],
      ttlSeconds: ttlSeconds(a.ttl),
      outDir: a['out-dir'],
      p12Passphrase: await secret(a['p12-passphrase-file'], '--p12-passphrase-file'),
      crlUrl: a['crl-url'],
    });
    out(`issued ${r.subject} serial ${r.serial}, valid until ${r.notAfter.toISOString()}`);
    // A password the operator chose is never printed; the default is, with what it is.
    const password = a['p12-passphrase-file'] === undefined ? `password ${JSON.stringify(r.p12Password)}, the default: choose one with --p12-passphrase-file` : 'password from --p12-passphrase-file';
    out(`wrote ${r.certPath} (certificate + chain), ${r.keyPath}, ${r.p12Path} (${password})`);
    out(`try: curl --cert ${r.certPath} --key ${r.keyPath} --cacert ${join(dir, CA_CHAIN_FILE)} https://localhost:8443/`);
  },
});

const issueServerCmd = command({
  command: 'issue-server',
  describe: 'issue a server certificate (serverAuth) with DNS and IP SANs: NAME.crt, NAME.key',
  builder: (y) =>
    y.options({
      ...storeOptions,
      dns: requiredList('dns', 'DNS name (repeatable; the first names the files)'),
      ip: { type: 'string', array: true, describe: 'IP address SAN (repeatable)' },
      ttl: { type: 'string', describe: 'lifetime (default 90d)' },
      'out-dir': outDirOption,
      'crl-url': leafCrlUrlOption,
    }),
  handler: async (a) => {
    const r = await issueServer({
      ...(await store(a)),
      dns: a.dns,
      ip: a.ip ?? [],
      ttlSeconds: ttlSeconds(a.ttl),
      outDir: a['out-dir'],
      crlUrl: a['crl-url'],
    });
    out(`issued ${r.subject} serial ${r.serial}, valid until ${r.notAfter.toISOString()}`);
    out(`wrote ${r.certPath} (certificate + chain), ${r.keyPath}`);
  },
});

const signCsrCmd = command({
  command: 'sign-csr',
  describe: 'sign a PKCS#10 request (subject copied verbatim, SANs from the request)',
  builder: (y) =>
    y.options({
      ...storeOptions,
      csr: required('csr', 'request file (PEM or DER)'),
      profile: { type: 'string', choices: ['client', 'server'] as const, demandOption: true, describe: 'client or server' },
      ttl: { type: 'string', describe: 'lifetime (default 8h client, 90d server)' },
      out: { type: 'string', describe: 'certificate + chain output file (default: stdout)' },
      'crl-url': leafCrlUrlOption,
    }),
  handler: async (a) => {
    let csr: Buffer;
    try {
      csr = await readFile(a.csr);
    } catch (cause) {
      throw new ZtpError('ZTP_CA_INVALID_INPUT', `--csr: cannot read ${a.csr}`, { cause });
    }
    const text = csr.toString('latin1');
    const r = await signCsr({
      ...(await store(a)),
      csr: text.includes('-----BEGIN') ? text : csr,
      profile: a.profile,
      ttlSeconds: ttlSeconds(a.ttl),
      outPath: a.out,
      crlUrl: a['crl-url'],
    });
    if (r.certPath) process.stderr.write(`issued ${r.subject} serial ${r.serial} into ${r.certPath}\n`);
    else process.stdout.write(r.certPem);
  },
});

const revokeCmd = command({
  command: 'revoke',
  describe: 'revoke by serial or CN and re-sign the CRL',
  builder: (y) =>
    exactlyOne(
      y.options({
        ...storeOptions,
        serial: { type: 'string', describe: 'serial in hex' },
        cn: { type: 'string', describe: 'revoke every valid certificate with this CN' },
        reason: { type: 'string', describe: `one of ${REVOCATION_REASONS.join(', ')}`, coerce: oneOf('reason', REVOCATION_REASONS) },
      }),
      'serial',
      'cn',
    ),
  handler: async (a) => {
    const r = await revoke({ ...(await store(a)), serial: a.serial, cn: a.cn, reason: a.reason });
    for (const e of r.revoked) out(`revoked ${e.serial} ${e.subject}`);
    out(`CRL re-signed: ${r.crlPath}`);
  },
});

const crlCmd = command({
  command: 'crl',
  describe: 're-sign crl.pem (run before its next update)',
  builder: (y) => y.options({ ...storeOptions, 'next-update': { type: 'string', describe: 'CRL lifetime', default: '7d' } }),
  handler: async (a) => {
    const r = await writeCrl({ ...(await store(a)), nextUpdateSeconds: parseDurationSeconds(a['next-update'], '--next-update') });
    out(`CRL signed: ${r.crlPath}`);
  },
});

const renewCmd = command({
  command: 'renew',
  describe: 're-issue a certificate with the same subject, SANs and key, atomically over --cert',
  builder: (y) =>
    y.options({
      ...storeOptions,
      cert: required('cert', 'certificate file to renew'),
      key: required('key', 'its private key'),
      ttl: { type: 'string', describe: 'lifetime (default: the current one)' },
      daemon: { type: 'boolean', describe: 'keep running: renew at 2/3 of each lifetime', default: false },
      exec: { type: 'string', describe: 'command run after each renewal (/bin/sh -c)' },
    }),
  handler: async (a) => {
    const opts = { certPath: a.cert, keyPath: a.key, ...(await store(a)), ttlSeconds: ttlSeconds(a.ttl) };
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
      await runRenewDaemon({ ...opts, signal: ac.signal, ...(a.exec && { exec: a.exec }) });
    } finally {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
    }
  },
});

const listCmd = command({
  command: 'list',
  describe: 'list issued certificates, soonest expiry first',
  builder: (y) => y.options({ dir: dirOption, json: { type: 'boolean', default: false, describe: 'JSON array' } }),
  handler: async (a) => {
    const rows = await listCertificates({ dir: resolveDir(a.dir) });
    process.stdout.write(a.json ? JSON.stringify(rows, null, 2) + '\n' : formatTable(rows));
  },
});

/** `ztproxy ca`: the X.509 certificate authority. */
export const caCommand = group({
  command: 'ca',
  describe: 'X.509 CA: init, issue client/server certificates, sign CSRs, revoke, CRL, renew, list',
  commands: [init, initIntermediate, issueClientCmd, issueServerCmd, signCsrCmd, revokeCmd, crlCmd, renewCmd, listCmd],
  demand: 'name a ca subcommand: init, init-intermediate, issue-client, issue-server, sign-csr, revoke, crl, renew, list',
});
