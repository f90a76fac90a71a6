// Helpers for the SSH CA tests: OpenSSH's own tools are the oracle.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnlessInstalled } from '../helpers/tools.js';

function runs(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).error === undefined;
}

/** Reason to skip when ssh-keygen is absent, else false. */
export const noSshKeygen: string | false = skipUnlessInstalled(runs('ssh-keygen', ['-?']), 'ssh-keygen', 'openssh-client');

/** Reason to skip the sshd tests, else false. */
export const noSshd: string | false =
  noSshKeygen ||
  skipUnlessInstalled(existsSync('/usr/sbin/sshd'), '/usr/sbin/sshd', 'openssh-server') ||
  skipUnlessInstalled(runs('ssh', ['-V']), 'ssh', 'openssh-client') ||
  (process.getuid?.() !== 0 ? 'sshd tests must run as root (they log in as root)' : false);

/** Runs ssh-keygen in UTC (so -L prints UTC times) and returns status and output. */
export function sshKeygen(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('ssh-keygen', args, { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Generates an unencrypted key pair with ssh-keygen; returns the private key path (`.pub` beside it). */
export function newKey(dir: string, name: string, type: 'ed25519' | 'ecdsa' | 'rsa' = 'ed25519'): string {
  const path = join(dir, name);
  const r = sshKeygen(['-q', '-t', type, ...(type === 'rsa' ? ['-b', '2048'] : []), '-N', '', '-C', `${name}@test`, '-f', path]);
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
  return path;
}

export interface CertInfo {
  type: string;
  keyId: string;
  serial: number;
  from: string;
  to: string;
  principals: string[];
  extensions: string[];
  criticalOptions: string;
  signingCa: string;
}

/** Parses `ssh-keygen -L -f cert` (which also verifies the CA signature) or throws with its stderr. */
export function readCert(path: string): CertInfo {
  const r = sshKeygen(['-L', '-f', path]);
  if (r.status !== 0) throw new Error(`ssh-keygen -L failed: ${r.stderr}`);
  const field = (name: string): string => new RegExp(`^\\s*${name}: ?(.*)$`, 'm').exec(r.stdout)?.[1]?.trim() ?? '';
  const list = (name: string): string[] => {
    const m = new RegExp(`^\\s*${name}: ?\\n((?:\\s{16}.*\\n?)*)`, 'm').exec(r.stdout);
    return m ? m[1]!.split('\n').map((l) => l.trim()).filter(Boolean) : [];
  };
  const valid = /from (\S+) to (\S+)/.exec(field('Valid')) ?? [];
  return {
    type: field('Type'),
    keyId: JSON.parse(field('Key ID')) as string,
    serial: Number(field('Serial')),
    from: valid[1] ?? '',
    to: valid[2] ?? '',
    principals: list('Principals'),
    extensions: list('Extensions'),
    criticalOptions: field('Critical Options'),
    signingCa: field('Signing CA'),
  };
}
