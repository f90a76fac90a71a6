import t from 'tap';
import { readFileSync } from 'node:fs';
import {
  alertRules,
  dashboardPath,
  dashboardQueries,
  exportedFamilies,
  familiesIn,
  substituteGrafanaVariables,
  unresolvedVariables,
} from './prometheus-harness.js';

interface Datasource {
  type?: string;
  uid?: string;
}
interface Panel {
  id: number;
  title: string;
  type: string;
  datasource?: Datasource;
  targets?: { refId: string; datasource?: Datasource; expr?: string }[];
}

const dashboard = JSON.parse(readFileSync(dashboardPath, 'utf8')) as {
  uid: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string }[] };
};

t.test('importable dashboard with a prometheus datasource variable used everywhere', async (t) => {
  t.equal(dashboard.uid, 'ztproxy');
  t.ok(dashboard.schemaVersion >= 36 && dashboard.schemaVersion <= 41, `schemaVersion ${dashboard.schemaVersion}`);
  t.same(
    dashboard.templating.list.filter((v) => v.type === 'datasource').map((v) => [v.name, v.query]),
    [['datasource', 'prometheus']],
  );
  const ids = dashboard.panels.map((p) => p.id);
  t.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  for (const p of dashboard.panels) {
    t.same(p.datasource, { type: 'prometheus', uid: '${datasource}' }, `${p.title}: panel datasource`);
    t.ok((p.targets ?? []).length > 0, `${p.title}: has queries`);
    for (const target of p.targets ?? []) {
      t.same(target.datasource, { type: 'prometheus', uid: '${datasource}' }, `${p.title} ${target.refId}: datasource`);
    }
  }
});

t.test('the panels the observability issue asks for', async (t) => {
  const titles = dashboard.panels.map((p) => p.title);
  for (const title of [
    'TLS terminations per second',
    'TLS handshake latency',
    'Requests per second by status class',
    'Upstream time to first byte by route',
    'Active connections',
    'Authorization denials per second by route',
    'Upstream errors per second by route and kind',
    'Days until certificate expiry',
  ]) {
    t.ok(titles.includes(title), title);
  }
});

t.test('every panel query names only metrics ztproxy exports, and uses every one', async (t) => {
  const families = await exportedFamilies();
  const used = new Set<string>();
  for (const q of dashboardQueries()) {
    const { known, unknown } = familiesIn(q.expr, families);
    t.same(unknown, [], `${q.panel} ${q.refId}: ${q.expr}`);
    t.ok(known.length > 0, `${q.panel} ${q.refId}: names a ztproxy metric`);
    t.same(unresolvedVariables(substituteGrafanaVariables(q.expr)), [], `${q.panel} ${q.refId}: variables`);
    for (const f of known) used.add(f);
  }
  t.same([...families.keys()].filter((f) => !used.has(f)), [], 'exported metrics without a panel');
});

t.test('every alert names only metrics ztproxy exports', async (t) => {
  const families = await exportedFamilies();
  const rules = alertRules();
  t.same(
    rules.map((r) => r.alert),
    [
      'ZtproxyHandshakeFailureRatioHigh',
      'ZtproxyServerCertificateExpiresSoon',
      'ZtproxyCrlNextUpdatePassed',
      'ZtproxyUpstreamErrorRatioHigh',
      'ZtproxyUpstreamTtfbP99High',
    ],
  );
  for (const r of rules) {
    const { known, unknown } = familiesIn(r.expr, families);
    t.same(unknown, [], `${r.alert}: ${r.expr}`);
    t.ok(known.length > 0, `${r.alert}: names a ztproxy metric`);
    t.ok(['warning', 'critical'].includes(r.labels?.severity ?? ''), `${r.alert}: severity`);
    t.ok(r.for, `${r.alert}: has a for duration`);
  }
});

t.test('the name check itself rejects unknown names', async (t) => {
  const families = await exportedFamilies();
  t.same(familiesIn('rate(ztproxy_tls_handshakes_totals[1m])', families).unknown, ['ztproxy_tls_handshakes_totals']);
  t.same(familiesIn('ztproxy_connections_active_bucket', families).unknown, ['ztproxy_connections_active_bucket']);
  t.same(familiesIn('ztproxy_upstream_ttfb_seconds_count', families).known, ['ztproxy_upstream_ttfb_seconds']);
  t.same(unresolvedVariables('rate(x[$__rate_interval]) and $instance and ${1}'), ['$__rate_interval', '$instance']);
});

t.test('docs/observability.md lists every panel query and every alert exactly', async (t) => {
  const doc = readFileSync(new URL('../../docs/observability.md', import.meta.url), 'utf8');
  const flat = doc.replace(/\s+/g, ' ');
  for (const q of dashboardQueries()) {
    t.ok(doc.includes(`| ${q.panel} |`), `panel row: ${q.panel}`);
    t.ok(doc.includes('`' + q.expr + '`'), `${q.panel} ${q.refId}: ${q.expr}`);
  }
  for (const r of alertRules()) {
    t.ok(doc.includes(`| \`${r.alert}\` | ${r.for} | ${r.labels?.severity} |`), `alert row: ${r.alert}`);
    t.ok(flat.includes(r.expr.replace(/\s+/g, ' ').trim()), `${r.alert} expression`);
  }
});
