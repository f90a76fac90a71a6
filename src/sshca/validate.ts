import { ZtpError } from '../util/index.js';

/** Longest key id accepted; sshd logs it on every login. */
export const MAX_KEY_ID_LENGTH = 256;
/** Most principals one certificate may name (OpenSSH's own limit is 256). */
export const MAX_PRINCIPALS = 256;

// C0 controls, DEL and C1 controls: a key id with a newline or an escape
// sequence could forge lines in sshd's auth log or a terminal.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Checks the certificate key id. Throws `ZTP_SSHCA_INVALID_INPUT` when empty, too long or holding control characters. */
export function validateIdentity(identity: unknown): string {
  if (typeof identity !== 'string' || identity.length === 0) {
    throw new ZtpError('ZTP_SSHCA_INVALID_INPUT', 'identity: must be a non-empty string');
  }
  if (CONTROL.test(identity)) throw new ZtpError('ZTP_SSHCA_INVALID_INPUT', `identity: control characters are not allowed, got ${JSON.stringify(identity)}`);
  if (identity.length > MAX_KEY_ID_LENGTH) throw new ZtpError('ZTP_SSHCA_INVALID_INPUT', `identity: at most ${MAX_KEY_ID_LENGTH} characters`);
  return identity;
}

/**
 * Normalises principals given as a list or as `root,dev`. Each one is
 * trimmed and must be non-empty, without whitespace, commas or control
 * characters. An empty list is refused: OpenSSH reads a certificate with no
 * principals as valid for every user (or host).
 */
export function parsePrincipals(principals: unknown): string[] {
  const list = typeof principals === 'string' ? principals.split(',') : principals;
  if (!Array.isArray(list)) throw new ZtpError('ZTP_SSHCA_INVALID_INPUT', 'principals: expected a list such as root,dev');
  const out = list.map((p) => (typeof p === 'string' ? p.trim() : ''));
  if (out.length === 0 || out.every((p) => p === '')) {
    throw new ZtpError('ZTP_SSHCA_INVALID_INPUT', 'principals: at least one is required (an empty list would allow every user)');
  }
  for (const p of out) {
    if (p === '' || /[\s,]/.test(p) || CONTROL.test(p)) {
      throw new ZtpError('ZTP_SSHCA_INVALID_INPUT', `principals: invalid entry ${JSON.stringify(p)} in ${JSON.stringify(list.join(','))}`);
    }
  }
  if (out.length > MAX_PRINCIPALS) throw new ZtpError('ZTP_SSHCA_INVALID_INPUT', `principals: at most ${MAX_PRINCIPALS}`);
  return [...new Set(out)];
}
