/** What the daemon tells an operator at start: an outdated runtime, insecure routes, the --dev curl line. */
import type { Logger } from 'pino';
import type { ResolvedConfig } from '../config/index.js';
import { nodeLineStatus, RECOMMENDED_NODE } from '../util/index.js';

/**
 * Warns when this Node.js line is past its end of life (no more security
 * fixes for the TLS stack ztproxy stands on); `now` is for tests.
 */
export function warnRuntime(log: Logger, version: string = process.version, now: Date = new Date()): boolean {
  const s = nodeLineStatus(version, now);
  if (!s.pastEndOfLife) return false;
  log.warn(
    { node: version, openssl: process.versions.openssl, endOfLife: s.endOfLife, recommended: `Node ${RECOMMENDED_NODE} LTS` },
    'node.js line past its end of life: no more security fixes; run ztproxy on node 24 lts',
  );
  return true;
}

/** Warns once per route that weakens security. */
export function warnInsecure(config: ResolvedConfig, log: Logger): void {
  for (const r of config.routes) {
    if (r.upstream.insecurePlaintext) log.warn({ route: r.name, upstream: r.upstream.origins }, 'insecure plaintext upstream enabled: identities travel unencrypted to it');
  }
}

/** Prints the newcomer's curl line (nothing without --dev). */
export function printDevNote(port: number, devNote: string | null): void {
  if (devNote) process.stdout.write(`\nztproxy dev mode: mTLS on https://localhost:${port}/ in front of a built-in echo upstream.\nTry it (your DN comes back in x-client-subject-dn):\n\n  ${devNote.replace('{PORT}', String(port))}\n\n`);
}
