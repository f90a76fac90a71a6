// The config loader: strict keys, messages that name the key path, what was
// expected and what was found, every problem at once, defaults in one place.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { loadConfig, parseHostPort, parseYaml, resolveConfig } from '../../src/config/index.js';
import { ValidationError } from '../../src/util/index.js';

const tls = { cert: '/c', key: '/k', clientCA: '/ca' };
const minimal = { tls, routes: [{ name: 'api', upstream: 'http://127.0.0.1:8080' }] };
const problemsOf = (raw: unknown, overrides = {}) => {
  try {
    resolveConfig(raw, overrides);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    return { code: err.code, problems: err.problems, message: err.message };
  }
  return null;
};

t.test('defaults', async (t) => {
  const c = resolveConfig(minimal);
  t.equal(c.listen, '0.0.0.0:8443');
  t.same(c.listenAddress, { host: '0.0.0.0', port: 8443 });
  t.equal(c.workers, 'auto');
  t.equal(c.tls.minVersion, 'TLSv1.2');
  t.equal(c.tls.verifyDepth, 3);
  t.equal(c.tls.sessionResumption, false);
  t.equal(c.metrics.listen, '127.0.0.1:9464');
  t.equal(c.limits.headersTimeoutMs, 10_000);
  t.equal(c.limits.maxHeaderBytes, 16_384);
  t.equal(c.headerNames.subjectDN, 'x-client-subject-dn');
  t.equal(c.headerNames.issuerDN, null);
  t.equal(c.routes[0]!.pathPrefix, '/');
  t.same(c.routes[0]!.upstream.origins, ['http://127.0.0.1:8080']);
  t.equal(c.routes[0]!.upstream.connections, 128);
  t.ok(Object.isFrozen(c) && Object.isFrozen(c.routes[0]) && Object.isFrozen(c.limits), 'deep-frozen');
});

t.test('unknown keys are errors at every depth, all reported at once', async (t) => {
  const r = problemsOf({ ...minimal, tlss: {}, routes: [{ name: 'api', upstream: { url: 'http://127.0.0.1:1', urll: 'x' }, allow: { ouu: ['x'] } }], identityHeaders: { subjectDn: 'X' } });
  t.equal(r?.code, 'ZTP_CONFIG_UNKNOWN_KEY');
  t.same(r?.problems.map((p) => p.path).sort(), ['identityHeaders.subjectDn', 'routes[0].allow.ouu', 'routes[0].upstream.urll', 'tlss']);
});

t.test('wrong types name path, expectation and finding', async (t) => {
  const r = problemsOf({ ...minimal, routes: [{ name: 'api', upstream: 'http://127.0.0.1:1', allow: { ou: 'dev' } }], limits: { headersTimeoutMs: -5 }, workers: 'many' });
  t.equal(r?.code, 'ZTP_CONFIG_INVALID');
  const msgs = r!.problems.map((p) => `${p.path}: ${p.message}`);
  t.ok(msgs.includes('routes[0].allow.ou: expected array of strings, got string "dev"'), msgs.join('\n'));
  t.ok(msgs.some((m) => m.startsWith('limits.headersTimeoutMs: expected integer from 1 to 86400000, got number -5')));
  t.ok(msgs.some((m) => m.startsWith('workers: expected "auto" or integer')));
  t.ok(problemsOf({ routes: minimal.routes })?.problems.some((p) => p.path === 'tls' && /missing/.test(p.message)), 'missing section named');
});

t.test('semantic checks', async (t) => {
  t.match(problemsOf({ ...minimal, listen: 'nope' })?.message, /listen: expected HOST:PORT/);
  t.match(problemsOf({ ...minimal, routes: [minimal.routes[0], minimal.routes[0]] })?.message, /routes\[1\]\.name: duplicate route name/);
  t.match(problemsOf({ ...minimal, routes: [{ name: 'a', upstream: { url: 'http://127.0.0.1:1', urls: ['http://127.0.0.1:2'] } }] })?.message, /either url or urls/);
  t.match(problemsOf({ ...minimal, routes: [{ name: 'a', upstream: 'ftp://127.0.0.1' }] })?.message, /expected an http:\/\/ or https:\/\/ URL/);
  t.match(problemsOf({ ...minimal, routes: [{ name: 'a', upstream: 'http://127.0.0.1:1/base' }] })?.message, /without path/);
  t.match(problemsOf({ ...minimal, routes: [{ name: 'a', upstream: { url: 'https://10.0.0.1', cert: '/x' } }] })?.message, /cert and key go together/);
  t.match(problemsOf({ ...minimal, routes: [{ name: 'a', upstream: { url: 'http://127.0.0.1:1', ca: '/x' } }] })?.message, /need an https:\/\/ upstream/);
  t.match(problemsOf({ ...minimal, identityHeaders: { issuerDN: 'X-Client-Subject-DN' } })?.message, /already used/);
});

t.test('plaintext to a non-loopback upstream needs insecurePlaintext', async (t) => {
  const r = problemsOf({ ...minimal, routes: [{ name: 'billing', upstream: 'http://10.100.0.3:8080' }] });
  t.equal(r?.code, 'ZTP_CONFIG_INSECURE_UPSTREAM');
  t.match(r?.message, /route "billing"/);
  t.ok(resolveConfig({ ...minimal, routes: [{ name: 'billing', upstream: { url: 'http://10.100.0.3:8080', insecurePlaintext: true } }] }).routes[0]!.upstream.insecurePlaintext);
  t.ok(resolveConfig({ tls }, { upstream: 'http://10.100.0.3:8080', insecurePlaintextUpstream: true }).routes[0]!.upstream.insecurePlaintext, 'the flag allows it too');
  for (const ok of ['http://localhost:1', 'http://127.0.0.2:1', 'http://[::1]:1', 'https://10.0.0.1']) t.ok(resolveConfig({ ...minimal, routes: [{ name: 'a', upstream: ok }] }), ok);
});

t.test('quick-start flags override the file', async (t) => {
  const c = resolveConfig({ ...minimal, listen: '0.0.0.0:1' }, { listen: '127.0.0.1:2', upstream: 'http://127.0.0.1:9', metricsListen: false, allow: { cn: ['alice'] }, workers: 1, logLevel: 'warn' });
  t.equal(c.listen, '127.0.0.1:2');
  t.equal(c.routes.length, 1);
  t.equal(c.routes[0]!.name, 'default');
  t.same(c.routes[0]!.allow, { cn: ['alice'] });
  t.equal(c.metricsAddress, null);
  t.equal(c.workers, 1);
  t.equal(c.log.level, 'warn');
});

t.test('YAML files', async (t) => {
  const dir = t.testdir();
  const f = join(dir, 'z.yaml');
  writeFileSync(f, 'tls:\n  cert: /c\n  key: /k\n  clientCA: /ca\nroutes:\n  - name: api\n    upstream: http://127.0.0.1:1\n');
  t.equal((await loadConfig(f)).source, f);
  await t.rejects(loadConfig(join(dir, 'missing.yaml')), { code: 'ZTP_CONFIG_READ' });
  t.throws(() => parseYaml('a: 1\na: 2\n'), { code: 'ZTP_CONFIG_PARSE' }, 'duplicate keys');
  t.throws(() => parseYaml('a: [\n'), { code: 'ZTP_CONFIG_PARSE' });
  t.throws(() => resolveConfig([1, 2]), { code: 'ZTP_CONFIG_INVALID' });
  t.same(parseHostPort('[::1]:443'), { host: '::1', port: 443 });
  t.equal(parseHostPort('host:99999'), null);
});
