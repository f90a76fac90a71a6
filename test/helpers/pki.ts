/**
 * A throwaway PKI for tests, minted with our own src/ca (never openssl):
 *
 *   const pki = await makePki(t.testdir())
 *   // pki.caCert, pki.server.cert/key (localhost + 127.0.0.1), pki.crl
 *   const alice = await pki.client('alice', { ou: ['dev'] })
 *   // alice.cert (leaf + chain), alice.key, alice.p12 (password pki.p12Password)
 *
 * Keys are ECDSA P-256 and the CA key is unencrypted unless `passphrase` is
 * given. `intermediate: true` puts an intermediate between the root and the
 * leaves: `caCert` stays the root (the trust anchor), leaves carry the
 * intermediate.
 */
import { join } from 'node:path';
import { initCA, initIntermediateCA, issueClient, issueServer, revoke, DEFAULT_P12_PASSWORD, type IssueClientOptions } from '../../src/ca/index.js';

export interface MakePkiOptions {
  /** CN of the root; default "ztproxy Test CA". */
  name?: string;
  passphrase?: string;
  intermediate?: boolean;
  permitDns?: string[];
  permitIp?: string[];
  /** Extra DNS names for the server certificate (after localhost). */
  serverDns?: string[];
}

/** Extra fields of a client certificate. */
export type ClientExtra = Partial<Omit<IssueClientOptions, 'cn' | 'dir' | 'passphrase'>>;

export interface ClientFiles {
  cert: string;
  key: string;
  p12: string;
  /** 32 lower-case hex digits, first byte non-zero: OpenSSL (and so $ssl_client_serial and ztproxy) prints exactly its upper case, 0A… included. */
  serial: string;
  certPem: string;
  keyPem: string;
}

export interface Pki {
  /** The store that issues leaves (the intermediate's when `intermediate`). */
  caDir: string;
  /** The root store. */
  rootDir: string;
  /** Trust anchor: the root certificate. */
  caCert: string;
  /** CRL of the issuing CA. */
  crl: string;
  server: { cert: string; key: string; serial: string };
  p12Password: string;
  passphrase: string | undefined;
  client(name: string, extra?: ClientExtra): Promise<ClientFiles>;
  /** Revokes a serial and re-signs `crl`. */
  revoke(serial: string): Promise<void>;
}

/** Creates a CA store under `dir` (`dir/ca`, and `dir/int` for an intermediate), a server certificate and a client factory. */
export async function makePki(dir: string, opts: MakePkiOptions = {}): Promise<Pki> {
  const rootDir = join(dir, 'ca');
  const passphrase = opts.passphrase;
  const root = await initCA({
    dir: rootDir,
    name: opts.name ?? 'ztproxy Test CA',
    ttlSeconds: 2 * 365 * 86400,
    ...(passphrase && { passphrase }),
    ...(opts.permitDns && { permitDns: opts.permitDns }),
    ...(opts.permitIp && { permitIp: opts.permitIp }),
  });
  let caDir = rootDir;
  if (opts.intermediate) {
    caDir = join(dir, 'int');
    await initIntermediateCA({ dir: caDir, parentDir: rootDir, name: 'ztproxy Test Intermediate', ttlSeconds: 365 * 86400, ...(passphrase && { passphrase, parentPassphrase: passphrase }) });
  }
  const leafDir = join(dir, 'leaves');
  const server = await issueServer({ dir: caDir, dns: ['localhost', ...(opts.serverDns ?? [])], ip: ['127.0.0.1'], outDir: leafDir, ttlSeconds: 86400, ...(passphrase && { passphrase }) });
  return {
    caDir,
    rootDir,
    caCert: root.certPath,
    crl: join(caDir, 'crl.pem'),
    server: { cert: server.certPath, key: server.keyPath, serial: server.serial },
    p12Password: DEFAULT_P12_PASSWORD,
    passphrase,
    async client(name, extra = {}) {
      const r = await issueClient({ dir: caDir, cn: name, outDir: leafDir, ...(passphrase && { passphrase }), ...extra });
      return { cert: r.certPath, key: r.keyPath, p12: r.p12Path, serial: r.serial, certPem: r.certPem, keyPem: r.keyPem };
    },
    async revoke(serial) {
      await revoke({ dir: caDir, serial, ...(passphrase && { passphrase }) });
    },
  };
}
