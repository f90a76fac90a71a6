/**
 * The newcomer's certificates: a throwaway CA, a server certificate for
 * localhost/127.0.0.1 and a client certificate `alice`, made with our own CA
 * module in `certs-dev/` when missing. Never for production.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { initCA, issueClient, issueServer, writeCrl } from '../ca/index.js';

export interface DevCerts {
  readonly dir: string;
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  readonly clientP12: string;
  readonly crl: string;
  /** True when this call created them. */
  readonly created: boolean;
}

const exists = (p: string) => access(p).then(() => true, () => false);

/** Ensures the dev certificates exist in `dir`; creates what is missing. */
export async function ensureDevCerts(dir: string): Promise<DevCerts> {
  const caDir = join(dir, 'ca');
  const files: DevCerts = {
    dir,
    caCert: join(caDir, 'ca.crt'),
    serverCert: join(dir, 'localhost.crt'),
    serverKey: join(dir, 'localhost.key'),
    clientCert: join(dir, 'alice.crt'),
    clientKey: join(dir, 'alice.key'),
    clientP12: join(dir, 'alice.p12'),
    crl: join(caDir, 'crl.pem'),
    created: false,
  };
  let created = false;
  if (!(await exists(files.caCert))) {
    await initCA({ dir: caDir, name: 'ztproxy dev CA (throwaway)', ttlSeconds: 2 * 365 * 86400 });
    created = true;
  }
  if (created || !(await exists(files.serverCert))) {
    await issueServer({ dir: caDir, dns: ['localhost'], ip: ['127.0.0.1', '::1'], outDir: dir, ttlSeconds: 365 * 86400 });
    created = true;
  }
  if (created || !(await exists(files.clientCert))) {
    await issueClient({ dir: caDir, cn: 'alice', ou: ['dev'], o: 'ztproxy dev', outDir: dir, ttlSeconds: 30 * 86400 });
    created = true;
  }
  // A CRL past its nextUpdate makes OpenSSL refuse every client: re-sign it on each dev start.
  if (!created) await writeCrl({ dir: caDir });
  return { ...files, created };
}
