/**
 * What the OpenSSL Node runs on offers, for checking `tls.groups` and
 * `tls.ciphers` at load. Found by asking it (`tls.createSecureContext`),
 * never from a list of versions: Node 20 bundles OpenSSL 3.0 (no ML-KEM),
 * Node 24 bundles 3.5 (X25519MLKEM768), and a Node built against a system
 * OpenSSL may differ from both.
 *
 * OpenSSL itself accepts a cipher list in which only some entries match and
 * silently drops the rest, so a typo would quietly weaken or narrow the
 * policy: every entry must match on its own.
 */
import tls from 'node:tls';

const offered = new Map<string, boolean>();

/** Whether this runtime's OpenSSL accepts `group` as a key-exchange group (asked once per name). */
export function groupOffered(group: string): boolean {
  let ok = offered.get(group);
  if (ok === undefined) {
    ok = tryEcdhCurve(group);
    offered.set(group, ok);
  }
  return ok;
}

/** Whether OpenSSL takes `list` as the groups of a context. */
function tryEcdhCurve(list: string): boolean {
  try {
    tls.createSecureContext({ ecdhCurve: list });
    return true;
  } catch {
    // Node 20 leaves OpenSSL's error on the thread's error queue when it refuses a curve list, and the next
    // call that looks at the queue fails for it (webcrypto's importKey throws DataError). Creating a context
    // clears the queue.
    tls.createSecureContext();
    return false;
  }
}

/**
 * Problems of a configured `tls.groups` list, as `[index, message]` pairs
 * (index null for the list as a whole; an empty array when OpenSSL takes the
 * list as it is).
 */
export function groupProblems(groups: readonly string[]): [number | null, string][] {
  const out: [number | null, string][] = [];
  const seen = new Set<string>();
  groups.forEach((g, i) => {
    // OpenSSL 3.0 refuses a group listed twice and 3.5 takes it: refuse it on both.
    if (seen.has(g.toLowerCase())) out.push([i, `group ${JSON.stringify(g)} is listed twice`]);
    seen.add(g.toLowerCase());
    if (!groupOffered(g)) out.push([i, `unknown group ${JSON.stringify(g)} (not offered by OpenSSL ${process.versions.openssl} of Node ${process.version})`]);
  });
  if (out.length === 0 && groups.length > 0) {
    if (!tryEcdhCurve(groups.join(':'))) {
      out.push([null, `OpenSSL ${process.versions.openssl} refuses the list ${JSON.stringify(groups.join(':'))}`]);
    }
  }
  return out;
}

/** Whether OpenSSL accepts `ciphers` as a cipher list (TLS 1.2 names) or suite list (TLS 1.3 `TLS_` names). */
function opensslAcceptsCiphers(ciphers: string): boolean {
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
    if (name === '' || !opensslAcceptsCiphers(name)) problems.push(`OpenSSL ${process.versions.openssl} knows no cipher suite ${JSON.stringify(name)}`);
  }
  if (problems.length === 0 && !opensslAcceptsCiphers(value)) problems.push('OpenSSL refuses the list as a whole (it selects no suite)');
  return problems;
}
