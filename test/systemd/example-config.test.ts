/**
 * config/ztproxy.example.yaml, the file the unit reads as
 * /etc/ztproxy/ztproxy.yaml: valid YAML, the key names of DESIGN.md's config
 * sketch, a stated default for every key, and accepted by `ztproxy serve
 * --check` once that exists.
 */
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { distMain, loadMakePki, pem, repoRoot, run, serveFlagsMissing, type Pki } from './unit-tools.js';

const examplePath = join(repoRoot, 'config', 'ztproxy.example.yaml');
const text = readFileSync(examplePath, 'utf8');

// Key names from DESIGN.md "Config": an interface that docs and tests share.
const SKETCH = {
  top: ['listen', 'workers', 'tls', 'routes', 'identityHeaders', 'metrics', 'log', 'limits'],
  tls: ['cert', 'key', 'clientCA', 'crl', 'minVersion', 'verifyDepth', 'sessionResumption'],
  route: ['name', 'host', 'pathPrefix', 'upstream', 'allow', 'deny'],
  identityHeaders: ['subjectDN', 'issuerDN', 'verify', 'serial', 'fingerprint', 'cert', 'xfcc', 'rfc9440'],
  metrics: ['listen'],
  log: ['level', 'access'],
  limits: [
    'handshakeTimeoutMs', 'headersTimeoutMs', 'requestTimeoutMs', 'idleTimeoutMs',
    'upstreamTimeoutMs', 'maxHeaderBytes', 'drainTimeoutMs',
  ],
};

interface Example {
  listen: string;
  workers: unknown;
  tls: Record<string, unknown>;
  routes: Array<Record<string, unknown>>;
  identityHeaders: Record<string, unknown>;
  metrics: Record<string, unknown>;
  log: Record<string, unknown>;
  limits: Record<string, unknown>;
}

t.test('is valid YAML with the sketch key names', async (t) => {
  const doc = parseDocument(text, { uniqueKeys: true });
  t.same(doc.errors.map(String), [], 'no YAML errors');
  t.same(doc.warnings.map(String), [], 'no YAML warnings');
  const c = doc.toJS() as Example;
  const keysIn = (o: object, allowed: string[], where: string) =>
    t.same(Object.keys(o).filter((k) => !allowed.includes(k)), [], `${where}: only sketch keys`);
  keysIn(c, SKETCH.top, 'top level');
  t.same(Object.keys(c).sort(), [...SKETCH.top].sort(), 'every top-level section present');
  keysIn(c.tls, SKETCH.tls, 'tls');
  for (const [i, r] of c.routes.entries()) keysIn(r, SKETCH.route, `routes[${i}]`);
  keysIn(c.identityHeaders, SKETCH.identityHeaders, 'identityHeaders');
  t.same(Object.keys(c.limits).sort(), [...SKETCH.limits].sort(), 'limits: all of them');
  keysIn(c.metrics, SKETCH.metrics, 'metrics');
  keysIn(c.log, SKETCH.log, 'log');
  t.equal(c.workers, 'auto');
  t.equal(c.tls.cert, '/etc/ztproxy/server.crt', 'TLS material lives in /etc/ztproxy (ReadOnlyPaths=)');
});

t.test('every key states its default (or that it is required)', async (t) => {
  const lines = text.split('\n');
  const undocumented: string[] = [];
  lines.forEach((line, i) => {
    const m = /^(\s*)(?:-\s+)?([A-Za-z]\w*):(.*)$/.exec(line);
    if (!m) return;
    const rest = m[3] ?? '';
    if (rest.trim() === '') return; // a block parent: its children carry the defaults
    const said = (s: string) => /default|required/i.test(s);
    let above = '';
    for (let j = i - 1; j >= 0 && /^\s*#/.test(lines[j] ?? ''); j--) above += lines[j];
    if (!said(rest.includes('#') ? rest.slice(rest.indexOf('#')) : '') && !said(above)) {
      undocumented.push(`line ${i + 1}: ${m[2]}`);
    }
  });
  t.same(undocumented, []);
});

const checkMissing = serveFlagsMissing(['--check', '--config']);
const makePki = await loadMakePki();
const checkSkip =
  checkMissing.length > 0
    ? `\`ztproxy serve\` in ${distMain} lacks ${checkMissing.join(' ')} (not implemented yet, or run npm run build)`
    : typeof makePki === 'string'
      ? makePki
      : false;

t.test('ztproxy serve --check accepts it, and rejects a typo with exit 3', { skip: checkSkip }, async (t) => {
  // The example names /etc/ztproxy; point it at generated material instead.
  const dir = t.testdir();
  const pki: Pki = await (makePki as (dir: string) => Promise<Pki>)(join(dir, 'pki'));
  writeFileSync(join(dir, 'server.crt'), pem(pki.server.cert));
  writeFileSync(join(dir, 'server.key'), pem(pki.server.key), { mode: 0o600 });
  writeFileSync(join(dir, 'ca.crt'), pem(pki.caCert));
  const staged = text.replaceAll('/etc/ztproxy/', `${dir}/`);
  const good = join(dir, 'ztproxy.yaml');
  writeFileSync(good, staged);
  const ok = run(process.execPath, [distMain, 'serve', '--check', '--config', good]);
  t.equal(ok.status, 0, 'the example passes --check', { stderr: ok.stderr });

  const typo = join(dir, 'typo.yaml');
  writeFileSync(typo, staged.replace('drainTimeoutMs:', 'drainTimeoutMS:'));
  const bad = run(process.execPath, [distMain, 'serve', '--check', '--config', typo]);
  t.equal(bad.status, 3, 'an unknown key is an invalid config (exit 3, no restart loop)');
  t.match(bad.stderr, /drainTimeoutMS/, 'and the message names the key');
});
