/**
 * Renewal: re-issue a certificate with the same subject (byte for byte),
 * SANs and key, written atomically over the old file; and a daemon that does
 * so at 2/3 of each certificate's lifetime.
 */
import { spawn } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import * as x509 from './x509.js';
import { ZtpError, describeError } from '../util/index.js';
import { withDirLock, writeFileAtomic } from '../util/index.js';
import { EKU, leafExtensions, signCertificate, validityFor } from './build.js';
import { certSubjectDer } from './der.js';
import { firstCn, formatSubject } from './subject.js';
import { loadCA, newSerial, readIndex, resolveDir, splitPem, writeIndex } from './store.js';
import { loadPrivateKey, spkiDer } from './keys.js';

export interface RenewOptions {
  /** Certificate to renew (leaf first; a chain after it is fine). Overwritten atomically. */
  certPath: string;
  /** Its private key (kept: the renewed certificate certifies the same key). */
  keyPath: string;
  dir?: string;
  passphrase?: string;
  /** Default: the lifetime of the current certificate. */
  ttlSeconds?: number;
}

export interface RenewResult {
  certPath: string;
  certPem: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
}

async function readLeaf(certPath: string): Promise<x509.X509Certificate> {
  try {
    const pems = splitPem(await readFile(certPath, 'utf8'));
    if (!pems[0]) throw new Error('no certificate in file');
    return new x509.X509Certificate(pems[0]);
  } catch (cause) {
    throw new ZtpError('ZTP_CA_INVALID_INPUT', `cannot read certificate ${certPath}`, { cause });
  }
}

/**
 * The TTL a certificate was issued with: its lifetime minus the clock-skew
 * backdating validityFor applied (60 s, or a tenth of the TTL when shorter).
 */
function originalTtlSeconds(c: x509.X509Certificate): number {
  const lifetime = (c.notAfter.getTime() - c.notBefore.getTime()) / 1000;
  return Math.max(1, Math.round(lifetime > 660 ? lifetime - 60 : lifetime / 1.1));
}

/**
 * Re-issues the certificate at `certPath` from the store: same subject DER,
 * same subjectAltName, same key, same profile (from its EKU), new serial and
 * validity. Throws `ZTP_CA_INVALID_INPUT` when the key does not match the
 * certificate, `ZTP_CA_TTL` when the lifetime no longer fits in the CA's.
 */
export async function renewCertificate(opts: RenewOptions): Promise<RenewResult> {
  const dir = resolveDir(opts.dir);
  const old = await readLeaf(opts.certPath);
  let keyPem: string;
  try {
    keyPem = await readFile(opts.keyPath, 'utf8');
  } catch (cause) {
    throw new ZtpError('ZTP_CA_INVALID_INPUT', `cannot read key ${opts.keyPath}`, { cause });
  }
  const key = loadPrivateKey(keyPem, undefined, opts.keyPath);
  const spki = spkiDer(key);
  if (!spki.equals(Buffer.from(old.publicKey.rawData))) throw new ZtpError('ZTP_CA_INVALID_INPUT', `${opts.keyPath} is not the key of ${opts.certPath}`);
  const eku = old.getExtension(x509.ExtendedKeyUsageExtension);
  const profile = eku?.usages.includes(EKU.serverAuth) && !eku.usages.includes(EKU.clientAuth) ? 'server' : 'client';
  const ca = await loadCA(dir, opts.passphrase);
  const validity = validityFor(ca, opts.ttlSeconds ?? originalTtlSeconds(old));
  const san = old.getExtension('2.5.29.17');
  const subjectDer = certSubjectDer(new Uint8Array(old.rawData));
  const cdp = old.getExtension('2.5.29.31'); // cRLDistributionPoints: the renewal keeps it
  const extensions = [
    ...(await leafExtensions(profile, spki, ca.cert, san ? new x509.Extension(san.rawData) : undefined, createPublicKey(key).asymmetricKeyType === 'rsa')),
    ...(cdp ? [new x509.Extension(cdp.rawData)] : []),
  ];
  return withDirLock(dir, async () => {
    const idx = await readIndex(dir);
    const cert = await signCertificate({ issuer: { name: ca.cert.subjectName, signer: ca.signer }, spki, subject: subjectDer, serial: newSerial(new Set(idx.entries.map((e) => e.serial))), validity, extensions });
    const certPem = [cert.toString('pem') + '\n', ...ca.embedChain].join('');
    await writeFileAtomic(opts.certPath, certPem, 0o644);
    const cn = firstCn(subjectDer);
    idx.entries.push({ serial: cert.serialNumber.toLowerCase(), subject: formatSubject(subjectDer), ...(cn === undefined ? {} : { cn }), profile, notBefore: cert.notBefore.toISOString(), notAfter: cert.notAfter.toISOString(), certPath: opts.certPath });
    await writeIndex(dir, idx);
    return { certPath: opts.certPath, certPem, serial: cert.serialNumber.toLowerCase(), notBefore: cert.notBefore, notAfter: cert.notAfter };
  });
}

/**
 * Milliseconds until a certificate valid [notBefore, notAfter] should be
 * renewed: at 2/3 of its lifetime, minus up to 1/10 of the lifetime of
 * jitter (`random()` in [0,1)) so a fleet does not renew in lockstep. A
 * certificate already past that point is renewed now.
 */
export function nextRenewalDelayMs(notBefore: Date, notAfter: Date, now: Date, random: () => number = Math.random): number {
  const lifetime = notAfter.getTime() - notBefore.getTime();
  const at = notBefore.getTime() + (lifetime * 2) / 3 - random() * (lifetime / 10);
  return Math.max(0, Math.round(at - now.getTime()));
}

export interface RenewDaemonOptions extends RenewOptions {
  /** Shell command run after each renewal (`/bin/sh -c`), e.g. `systemctl reload ztproxy`. */
  exec?: string;
  /** Stops the loop (between renewals or while waiting). */
  signal?: AbortSignal;
  /** Returns after this many renewals (tests use 1); default: forever. */
  maxRenewals?: number;
  random?: () => number;
  /** One line per event; default stderr. */
  log?: (line: string) => void;
}

function runShell(cmd: string): Promise<number> {
  return new Promise((resolveExit) => {
    const child = spawn('/bin/sh', ['-c', cmd], { stdio: 'inherit' });
    child.on('error', () => resolveExit(127));
    child.on('exit', (code, sig) => resolveExit(code ?? (sig ? 128 : 1)));
  });
}

/**
 * Renews `certPath` at 2/3 of each lifetime until `signal` aborts (or
 * `maxRenewals` is reached), running `exec` after each renewal. A failed
 * renewal or command is logged and retried, never fatal: the old certificate
 * stays in place. The CA is loaded once up front, so a wrong passphrase
 * fails at start. Resolves to the number of renewals done.
 */
export async function runRenewDaemon(opts: RenewDaemonOptions): Promise<number> {
  const log = opts.log ?? ((line: string) => process.stderr.write(line + '\n'));
  await loadCA(resolveDir(opts.dir), opts.passphrase);
  let renewals = 0;
  while (!opts.signal?.aborted && (opts.maxRenewals === undefined || renewals < opts.maxRenewals)) {
    const cur = await readLeaf(opts.certPath);
    const delay = nextRenewalDelayMs(cur.notBefore, cur.notAfter, new Date(), opts.random);
    log(`renew: ${opts.certPath} serial ${cur.serialNumber.toLowerCase()} renews in ${Math.round(delay / 1000)}s`);
    try {
      await sleep(delay, undefined, opts.signal ? { signal: opts.signal } : undefined);
    } catch {
      break; // aborted
    }
    try {
      const r = await renewCertificate(opts);
      renewals++;
      log(`renew: ${opts.certPath} renewed, serial ${r.serial}, not after ${r.notAfter.toISOString()}`);
      if (opts.exec) {
        const code = await runShell(opts.exec);
        if (code !== 0) log(`renew: --exec command exited with ${code}`);
      }
    } catch (err) {
      const left = cur.notAfter.getTime() - Date.now();
      const retryMs = Math.max(1000, Math.min(60_000, left / 10));
      log(`renew: failed: ${describeError(err)}; retrying in ${Math.round(retryMs / 1000)}s`);
      try {
        await sleep(retryMs, undefined, opts.signal ? { signal: opts.signal } : undefined);
      } catch {
        break;
      }
    }
  }
  return renewals;
}
