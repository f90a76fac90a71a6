/**
 * `tls.ciphers` is checked entry by entry with the OpenSSL Node runs on:
 * OpenSSL itself accepts a cipher list in which only some entries match and
 * silently drops the rest, so a typo would quietly weaken or narrow the
 * policy. Every entry must match at least one suite on its own.
 */
import tls from 'node:tls';

/** Whether OpenSSL accepts `ciphers` as a cipher list (TLS 1.2 names) or suite list (TLS 1.3 `TLS_` names). */
function opensslAccepts(ciphers: string): boolean {
  try {
    tls.createSecureContext({ ciphers });
    return true;
  } catch {
    return false;
  }
}

/** Problems of a `tls.ciphers` value, each a sentence without the key path; empty when OpenSSL knows every entry. */
export function cipherListProblems(value: string): string[] {
  const problems: string[] = [];
  const entries = value.split(/[:, ]+/).filter((e) => e !== '');
  if (entries.length === 0) return ['expected at least one cipher suite'];
  for (const entry of entries) {
    if (entry.startsWith('@')) {
      if (!/^@(SECLEVEL=[0-5]|STRENGTH)$/.test(entry)) problems.push(`unknown directive ${JSON.stringify(entry)} (expected @SECLEVEL=0..5 or @STRENGTH)`);
      continue;
    }
    const name = /^[!+-]/.test(entry) ? entry.slice(1) : entry;
    if (name === '' || !opensslAccepts(name)) problems.push(`OpenSSL ${process.versions.openssl} knows no cipher suite ${JSON.stringify(name)}`);
  }
  if (problems.length === 0 && !opensslAccepts(value)) problems.push('OpenSSL refuses the list as a whole (it selects no suite)');
  return problems;
}
