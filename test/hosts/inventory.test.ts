import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { loadInventory, parseInventory } from '../../src/hosts/index.js';
import { ValidationError } from '../../src/util/index.js';

const minimal = () => ({
  hosts: [
    { name: 'proxy1', role: 'proxy', address: '10.100.0.1', endpoint: '192.0.2.1:51820' },
    { name: 'app1', role: 'app', address: '10.100.0.3/24' },
    { name: 'db1', role: 'db', address: '10.100.0.2' },
  ],
  rules: [
    { from: 'any', to: 'proxy', port: 443, via: 'public' },
    { from: 'proxy', to: 'app', port: 8080 },
    { from: 'app', to: 'db', port: 5432 },
  ],
});
type Doc = ReturnType<typeof minimal> & Record<string, unknown>;

/** Parses `doc` and returns the issues of the expected ZTP_HOSTS_INVALID error. */
function issuesOf(t: Test, doc: unknown): { path: string; message: string }[] {
  try {
    parseInventory(stringify(doc), 'case.yaml');
  } catch (err) {
    t.equal((err as { code?: string }).code, 'ZTP_HOSTS_INVALID');
    return err instanceof ValidationError ? [...err.problems] : [{ path: '', message: String(err) }];
  }
  t.fail('expected ZTP_HOSTS_INVALID');
  return [];
}

function mutate(fn: (d: Doc) => void): Doc {
  const d = minimal() as Doc;
  fn(d);
  return d;
}

t.test('the example inventory loads with defaults filled in and frozen', async (t) => {
  const inv = await loadInventory(new URL('../../config/hosts.example.yaml', import.meta.url).pathname);
  t.equal(inv.hosts.length, 5);
  t.equal(inv.network.mtu, 1380);
  t.equal(inv.rules[0]!.proto, 'tcp');
  t.equal(inv.rules[0]!.via, 'wg');
  t.ok(Object.isFrozen(inv.hosts[0]));
});

t.test('a minimal inventory gets every default', async (t) => {
  const inv = parseInventory(stringify(minimal()), 'min.yaml');
  t.same(inv.network, { subnet: '10.100.0.0/24', listenPort: 51820, mtu: 1420 });
  t.equal(inv.firewall.outputPolicy, 'accept');
  t.equal(inv.ssh.authenticationMethods, 'publickey');
  t.equal(inv.ssh.allowAuthorizedKeys, false);
  t.same(inv.admins, []);
});

const cases: [string, (d: Doc) => void, string][] = [
  ['unknown top-level key', (d) => (d['hostz'] = []), 'hostz'],
  ['unknown nested key names its path', (d) => ((d.hosts[1] as Record<string, unknown>)['adress'] = 'x'), 'hosts[1].adress'],
  ['unknown key in a rule', (d) => ((d.rules[0] as Record<string, unknown>)['prot'] = 'udp'), 'rules[0].prot'],
  ['unknown role on a host', (d) => (d.hosts[2]!.role = 'database'), 'hosts[2].role (host db1)'],
  ['unknown role in a rule', (d) => (d.rules[2]!.to = 'database'), 'rules[2].to'],
  ['unknown source in a rule', (d) => (d.rules[2]!.from = 'apps'), 'rules[2].from'],
  ['duplicate name', (d) => (d.hosts[2]!.name = 'app1'), 'hosts[2].name (host app1)'],
  ['duplicate address', (d) => (d.hosts[2]!.address = '10.100.0.3'), 'hosts[2].address (host db1)'],
  ['address outside the subnet', (d) => (d.hosts[2]!.address = '10.200.0.2'), 'hosts[2].address (host db1)'],
  ['address with another prefix', (d) => (d.hosts[2]!.address = '10.100.0.2/16'), 'hosts[2].address (host db1)'],
  ['broadcast address', (d) => (d.hosts[2]!.address = '10.100.0.255'), 'hosts[2].address (host db1)'],
  ['port out of range', (d) => (d.rules[2]!.port = 65536), 'rules[2].port'],
  ['port zero', (d) => (d.rules[2]!.port = 0), 'rules[2].port'],
  ['bad endpoint: no port', (d) => (d.hosts[0]!.endpoint = '192.0.2.1'), 'hosts[0].endpoint (host proxy1)'],
  ['bad endpoint: port out of range', (d) => (d.hosts[0]!.endpoint = '192.0.2.1:70000'), 'hosts[0].endpoint (host proxy1)'],
  ['bad endpoint: bad address', (d) => (d.hosts[0]!.endpoint = '192.0.2.300:51820'), 'hosts[0].endpoint (host proxy1)'],
  ['bad endpoint: bad name', (d) => (d.hosts[0]!.endpoint = 'bad_name!:51820'), 'hosts[0].endpoint (host proxy1)'],
  ['unreachable host', (d) => d.rules.pop(), 'hosts[2] (host db1)'],
  ['public rule from a role', (d) => (d.rules[0]!.from = 'app'), 'rules[0].from'],
  ['bad subnet', (d) => (d['network'] = { subnet: '10.100.0.1/24' }), 'network.subnet'],
  ['host name that is not a DNS label', (d) => (d.hosts[1]!.name = '../etc'), 'hosts[1].name (host "../etc")'],
  ['principals for an unknown role', (d) => (d['ssh'] = { principals: { web: { root: ['ops'] } } }), 'ssh.principals.web'],
  ['principals user that is not a user name', (d) => (d['ssh'] = { principals: { all: { '../x': ['ops'] } } }), 'ssh.principals.all.../x'],
  ['two proxy routes on the same prefix', (d) => d.rules.push({ from: 'proxy', to: 'app', port: 9090 }), 'rules[3].pathPrefix'],
  ['admin with a bad public key', (d) => (d['admins'] = [{ name: 'a', address: '10.100.0.9', publicKey: 'nope' }]), 'admins[0].publicKey (admin a)'],
  ['wrong type', (d) => (d['network'] = { mtu: 'big' }), 'network.mtu'],
];

for (const [name, fn, path] of cases) {
  t.test(`refuses: ${name}`, async (t) => {
    const issues = issuesOf(t, mutate(fn));
    t.ok(issues.some((i) => i.path === path), `an issue at ${path}`, { found: issues });
  });
}

t.test('reports every problem at once', async (t) => {
  const issues = issuesOf(t, mutate((d) => {
    d.hosts[1]!.address = '10.100.0.1';
    d.hosts[2]!.endpoint = 'nope';
    d.rules[2]!.from = 'web';
  }));
  t.same(issues.map((i) => i.path).sort(), ['hosts[1].address (host app1)', 'hosts[2].endpoint (host db1)', 'rules[2].from']);
});

t.test('YAML syntax errors and duplicate keys are ZTP_HOSTS_INVALID', async (t) => {
  t.throws(() => parseInventory('hosts: [', 'x.yaml'), { code: 'ZTP_HOSTS_INVALID' });
  t.throws(() => parseInventory('rules: []\nrules: []\n', 'x.yaml'), { code: 'ZTP_HOSTS_INVALID' });
});

t.test('the inventory YAML is as strict as the config: bad aliases and alias bombs are ZTP_HOSTS_INVALID', async (t) => {
  // Used to escape from yaml's toJS as a raw ReferenceError (exit 1, no code), where a config gave ZTP_CONFIG_PARSE.
  t.throws(() => parseInventory('network:\n  <<: *c\nhosts: []\n', 'x.yaml'), { code: 'ZTP_HOSTS_INVALID', message: /^inventory x\.yaml: / });
  const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefgh'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`)].join('\n');
  t.throws(() => parseInventory(bomb, 'x.yaml'), { code: 'ZTP_HOSTS_INVALID' }, 'billion laughs refused');
});

t.test('an unreadable inventory is ZTP_HOSTS_READ', async (t) => {
  const dir = t.testdir({});
  await t.rejects(loadInventory(`${dir}/missing.yaml`), { code: 'ZTP_HOSTS_READ' });
});

t.test('config/hosts.example.yaml keeps documenting every rule of the spec', async (t) => {
  const text = readFileSync(new URL('../../config/hosts.example.yaml', import.meta.url), 'utf8');
  for (const rule of ['from: app, to: db, port: 5432', 'from: proxy, to: app, port: 8080', 'from: any, to: proxy, port: 443, via: public', 'from: admins, to: all, port: 22']) {
    t.match(text, rule);
  }
});
