/**
 * Identity policies of a route: `allow` and `deny` rules on subject CN, OU,
 * O, SAN DNS/URI/email, issuer DN and serial. Deny wins; with an `allow`
 * rule, at least one of its values must match; a route without rules accepts
 * any verified client. `*` matches within one DNS label or path segment
 * (never across `.` or `/`). Values compare whole, so a DN holding a NUL or
 * a `,` can never match by prefix.
 */
import type { IdentityRule } from '../config/index.js';
import type { PeerIdentity } from '../tls/index.js';

export interface Decision {
  readonly allowed: boolean;
  /** The rule that decided, e.g. `deny.cn=mallory`, `allow.ou=dev`, `allow (no value matched)`, `no policy`. */
  readonly rule: string;
}

type Field = keyof IdentityRule;
const FIELDS: readonly Field[] = ['cn', 'ou', 'o', 'dns', 'uri', 'email', 'issuer', 'serial'];

interface Matcher {
  readonly field: Field;
  readonly pattern: string;
  readonly test: (value: string) => boolean;
}

function compile(field: Field, pattern: string): Matcher {
  if (field === 'serial') {
    const want = pattern.replace(/:/g, '').replace(/^0+(?=.)/, '').toUpperCase();
    return { field, pattern, test: (v) => v.replace(/^0+(?=.)/, '') === want };
  }
  if (!pattern.includes('*')) return { field, pattern, test: (v) => v === pattern };
  const re = new RegExp('^' + pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^./]*') + '$', 's');
  return { field, pattern, test: (v) => re.test(v) };
}

function values(id: PeerIdentity, field: Field): readonly string[] {
  switch (field) {
    case 'issuer':
      return [id.issuerDN];
    case 'serial':
      return [id.serial];
    default:
      return id[field];
  }
}

/** A compiled policy; evaluate once per connection and route. */
export class IdentityPolicy {
  readonly #allow: readonly Matcher[] | null;
  readonly #deny: readonly Matcher[];

  constructor(allow: IdentityRule | undefined, deny: IdentityRule | undefined) {
    const build = (r: IdentityRule | undefined) => (r ? FIELDS.flatMap((f) => (r[f] ?? []).map((p) => compile(f, p))) : []);
    this.#allow = allow ? build(allow) : null;
    this.#deny = build(deny);
  }

  /** Decides for `id`. Never throws. */
  evaluate(id: PeerIdentity): Decision {
    for (const m of this.#deny) {
      if (values(id, m.field).some(m.test)) return { allowed: false, rule: `deny.${m.field}=${m.pattern}` };
    }
    if (this.#allow === null) return { allowed: true, rule: this.#deny.length > 0 ? 'no deny rule matched' : 'no policy' };
    for (const m of this.#allow) {
      if (values(id, m.field).some(m.test)) return { allowed: true, rule: `allow.${m.field}=${m.pattern}` };
    }
    return { allowed: false, rule: 'allow (no value matched)' };
  }
}
