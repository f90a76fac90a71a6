/**
 * Strict inventory validation: the schema (shape, types, unknown keys), then
 * the cross-field checks. Every problem is collected and reported at once;
 * nothing is rendered or written from an inventory with any problem.
 */
import { checkSchema, ValidationError, type Problem } from '../util/index.js';
import { endpointProblem, parseHostAddress, parseSubnet } from './net.js';
import { DEFAULT_PATH_PREFIX, InventorySchema, ROLES, type Inventory } from './schema.js';
import { buildTopology } from './topology.js';

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
// Users become file names under principalsDir: no path separators, no dots.
const USER = /^[a-z_][a-z0-9_-]{0,31}$/;
// Principals are written one per line; sshd splits on whitespace and commas.
const PRINCIPAL = /^[^\s,#]+$/;
const WG_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

/** Adds the host or admin name to paths such as `hosts[2].address`, so a message names both. */
function named(inv: Inventory, problem: Problem): Problem {
  const m = /^(hosts|admins)\[(\d+)\]/.exec(problem.path);
  const name = m ? inv[m[1] as 'hosts' | 'admins'][Number(m[2])]?.name : undefined;
  const shown = name !== undefined && NAME.test(name) ? name : JSON.stringify(name);
  return name ? { path: `${problem.path} (${m![1] === 'hosts' ? 'host' : 'admin'} ${shown})`, message: problem.message } : problem;
}

function crossFieldProblems(inv: Inventory): Problem[] {
  const problems: Problem[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });
  const roles: readonly string[] = ROLES;
  const subnet = parseSubnet(inv.network.subnet);
  if (typeof subnet === 'string') add('network.subnet', `${subnet}, got ${JSON.stringify(inv.network.subnet)}`);

  const names = new Map<string, string>();
  const addresses = new Map<number, string>();
  const members = [
    ...inv.hosts.map((m, i) => ({ ...m, path: `hosts[${i}]` })),
    ...inv.admins.map((m, i) => ({ ...m, path: `admins[${i}]` })),
  ];
  for (const m of members) {
    if (!NAME.test(m.name)) add(`${m.path}.name`, `expected a lower-case DNS label (a-z, 0-9, -), got ${JSON.stringify(m.name)}`);
    else if (names.has(m.name)) add(`${m.path}.name`, `duplicate name ${m.name}, also ${names.get(m.name)}`);
    else names.set(m.name, m.path);
    if (typeof subnet !== 'string') {
      const a = parseHostAddress(m.address, subnet);
      if (typeof a === 'string') add(`${m.path}.address`, a);
      else if (addresses.has(a)) add(`${m.path}.address`, `duplicate address ${m.address}, also ${addresses.get(a)}`);
      else addresses.set(a, m.path);
    }
    if (m.endpoint !== undefined) {
      const why = endpointProblem(m.endpoint);
      if (why) add(`${m.path}.endpoint`, `${why}, got ${JSON.stringify(m.endpoint)}`);
    }
  }
  inv.hosts.forEach((h, i) => {
    if (!roles.includes(h.role)) add(`hosts[${i}].role`, `unknown role ${JSON.stringify(h.role)}, expected one of ${ROLES.join(', ')}`);
  });
  inv.admins.forEach((a, i) => {
    if (!WG_KEY.test(a.publicKey)) add(`admins[${i}].publicKey`, 'expected a WireGuard public key (44 base64 characters, as `wg pubkey` prints)');
  });

  const prefixes = new Map<string, number>();
  inv.rules.forEach((r, i) => {
    const p = `rules[${i}]`;
    if (!roles.includes(r.from) && r.from !== 'any' && r.from !== 'admins') {
      add(`${p}.from`, `unknown role ${JSON.stringify(r.from)}, expected one of ${ROLES.join(', ')}, admins, any`);
    }
    if (!roles.includes(r.to) && r.to !== 'all') {
      add(`${p}.to`, `unknown role ${JSON.stringify(r.to)}, expected one of ${ROLES.join(', ')}, all`);
    }
    if (r.via === 'public' && r.from !== 'any') add(`${p}.from`, 'public rules admit every source: from must be "any"');
    if (r.pathPrefix !== undefined) {
      if (!(r.from === 'proxy' && r.to === 'app' && r.via === 'wg' && r.proto === 'tcp')) {
        add(`${p}.pathPrefix`, 'only proxy → app tcp rules over wg become ztproxy routes');
      } else if (!r.pathPrefix.startsWith('/')) add(`${p}.pathPrefix`, `expected a path starting with /, got ${JSON.stringify(r.pathPrefix)}`);
    }
    if (r.from === 'proxy' && r.to === 'app' && r.via === 'wg' && r.proto === 'tcp') {
      const prefix = r.pathPrefix ?? DEFAULT_PATH_PREFIX;
      const other = prefixes.get(prefix);
      if (other !== undefined) add(`${p}.pathPrefix`, `route ${prefix} is already taken by rules[${other}]: give each proxy → app rule its own pathPrefix`);
      else prefixes.set(prefix, i);
    }
  });

  for (const [scope, users] of Object.entries(inv.ssh.principals)) {
    if (!roles.includes(scope) && scope !== 'all') add(`ssh.principals.${scope}`, `unknown role, expected one of ${ROLES.join(', ')}, all`);
    for (const [user, list] of Object.entries(users)) {
      if (!USER.test(user)) add(`ssh.principals.${scope}.${user}`, 'expected a local user name (a-z, 0-9, _, -)');
      list.forEach((pr, i) => {
        if (!PRINCIPAL.test(pr)) add(`ssh.principals.${scope}.${user}[${i}]`, `principals hold no spaces, commas or #, got ${JSON.stringify(pr)}`);
      });
    }
  }
  for (const key of ['userCAKeys', 'revokedKeys', 'principalsDir'] as const) {
    if (!inv.ssh[key].startsWith('/') || /\s/.test(inv.ssh[key])) add(`ssh.${key}`, 'expected an absolute path without spaces');
  }
  if (!inv.ztproxy.dir.startsWith('/') || /\s/.test(inv.ztproxy.dir)) add('ztproxy.dir', 'expected an absolute path without spaces');
  return problems;
}

function reachabilityProblems(inv: Inventory): Problem[] {
  return buildTopology(inv).flatMap((view, i) =>
    view.inbound.length === 0 && view.publicInbound.length === 0
      ? [{ path: `hosts[${i}]`, message: 'no rule admits anything to this host and it is not SSH-reachable: add a rule with to: its role or all' }]
      : [],
  );
}

/**
 * Validates a parsed inventory document, fills in defaults and returns a
 * deep-frozen Inventory. Throws a {@link ValidationError}
 * (`ZTP_HOSTS_INVALID`) listing every problem, each naming its key path and,
 * for hosts and admins, the name.
 */
export function validateInventory(doc: unknown, source: string): Inventory {
  const { value: inv, problems: shape } = checkSchema(InventorySchema, structuredClone(doc ?? {}));
  if (shape.length) throw inventoryError(source, shape);
  let problems = crossFieldProblems(inv);
  if (!problems.length) problems = reachabilityProblems(inv);
  if (problems.length) throw inventoryError(source, problems.map((p) => named(inv, p)));
  return deepFreeze(inv);
}

function inventoryError(source: string, problems: readonly Problem[]): ValidationError {
  const heading = `inventory ${source} has ${problems.length} problem${problems.length === 1 ? '' : 's'}`;
  return new ValidationError('ZTP_HOSTS_INVALID', heading, problems, { oneLine: true });
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
