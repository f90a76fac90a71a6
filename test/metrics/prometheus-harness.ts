/**
 * Shared by the observability tests: the dashboard's and the alert file's
 * PromQL, the names ztproxy exports, and a real Prometheus server started in
 * a test directory (scrape and evaluation every second).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { Registry } from 'prom-client';
import { parse } from 'yaml';
import { createMetrics } from '../../src/metrics/definitions.js';

export const root = fileURLToPath(new URL('../../', import.meta.url));
export const dashboardPath = join(root, 'config/grafana/ztproxy.json');
export const alertsPath = join(root, 'config/prometheus/ztproxy-alerts.yml');
export const PROMETHEUS = '/usr/bin/prometheus';
export const PROMTOOL = '/usr/bin/promtool';

export interface PanelQuery {
  panel: string;
  refId: string;
  expr: string;
  instant: boolean;
}

interface Panel {
  title: string;
  panels?: Panel[];
  targets?: { refId: string; expr?: string; instant?: boolean }[];
}

/** Every target of every panel (rows included) of the Grafana dashboard. */
export function dashboardQueries(): PanelQuery[] {
  const dashboard = JSON.parse(readFileSync(dashboardPath, 'utf8')) as { panels: Panel[] };
  const out: PanelQuery[] = [];
  const walk = (panels: Panel[]): void => {
    for (const p of panels) {
      for (const target of p.targets ?? []) {
        out.push({ panel: p.title, refId: target.refId, expr: target.expr ?? '', instant: !!target.instant });
      }
      walk(p.panels ?? []);
    }
  };
  walk(dashboard.panels);
  return out;
}

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** Every rule of the alert file. */
export function alertRules(): AlertRule[] {
  const file = parse(readFileSync(alertsPath, 'utf8')) as { groups: { rules: AlertRule[] }[] };
  return file.groups.flatMap((g) => g.rules);
}

/** Grafana's interval variables replaced by fixed ranges, as Prometheus' HTTP API needs them. */
export function substituteGrafanaVariables(expr: string): string {
  return expr.replaceAll('$__rate_interval', '1m').replaceAll('$__interval', '1m').replaceAll('$__range', '5m');
}

/** Grafana variables that {@link substituteGrafanaVariables} leaves (regex group references `${1}` are PromQL's own). */
export function unresolvedVariables(expr: string): string[] {
  return [...expr.matchAll(/\$(?!\{\d+\})[\w{]+\}?/g)].map((m) => m[0]);
}

/** The metric family names ztproxy exports, from definitions.ts. */
export async function exportedFamilies(): Promise<Map<string, string>> {
  const json = await createMetrics(new Registry()).registry.getMetricsAsJSON();
  return new Map(json.map((m) => [m.name, String(m.type)]));
}

/**
 * The ztproxy families an expression names (histogram series `_bucket`,
 * `_sum`, `_count` mapped to their family), and the names that are none.
 */
export function familiesIn(expr: string, families: Map<string, string>): { known: string[]; unknown: string[] } {
  const known: string[] = [];
  const unknown: string[] = [];
  for (const [name] of expr.matchAll(/\bztproxy_[a-zA-Z0-9_]+/g)) {
    const family = families.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    if (families.has(family) && (family === name || families.get(family) === 'histogram')) known.push(family);
    else unknown.push(name);
  }
  return { known, unknown };
}

/** A free TCP port on loopback (bound and released; a small race, good enough for tests). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Polls `probe` every `everyMs` until it returns a value other than undefined, or `timeoutMs` passes. */
export async function poll<T>(probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 250): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface PrometheusServer {
  url: string;
  /** Everything Prometheus wrote to stderr so far (for failure diagnostics). */
  log(): string;
  query(expr: string): Promise<QueryResult>;
  rules(): Promise<RuleState[]>;
}

export interface QueryResult {
  status: string;
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

export interface RuleState {
  name: string;
  health: string;
  lastError?: string;
  lastEvaluation: string;
}

/**
 * Starts Prometheus scraping `target` (host:port) every second with the alert
 * file, waits until it is ready, and stops it in `t.teardown`.
 * Resolves to undefined (after `t.fail`) when it does not become ready in 30 s.
 */
export async function startPrometheus(t: Test, target: string): Promise<PrometheusServer | undefined> {
  const dir = t.testdir({ data: {} });
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s, scrape_timeout: 1s }',
      `rule_files: [${JSON.stringify(alertsPath)}]`,
      'scrape_configs:',
      '  - job_name: ztproxy',
      `    static_configs: [{ targets: [${JSON.stringify(target)}] }]`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let stderr = '';
  const child = spawn(
    PROMETHEUS,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => (stderr = (stderr + s).slice(-20_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.teardown(async () => {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  });
  const ready = await poll(async () => ((await fetch(`${url}/-/ready`)).ok ? true : undefined), 30_000);
  if (!ready) {
    t.fail('prometheus did not become ready', { stderr });
    return undefined;
  }
  const getJson = async <T>(path: string): Promise<T> => (await (await fetch(url + path)).json()) as T;
  return {
    url,
    log: () => stderr,
    query: (expr) => getJson<QueryResult>(`/api/v1/query?query=${encodeURIComponent(expr)}`),
    rules: async () => {
      const r = await getJson<{ data: { groups: { rules: RuleState[] }[] } }>('/api/v1/rules');
      return r.data.groups.flatMap((g) => g.rules);
    },
  };
}

/** True when a query result has at least one sample with a finite value. */
export function hasFiniteSample(r: QueryResult): boolean {
  return r.status === 'success' && (r.data?.result ?? []).some((s) => Number.isFinite(Number(s.value[1])));
}

export const havePrometheus = existsSync(PROMETHEUS) && existsSync(PROMTOOL);

/**
 * Polls until every dashboard query returns at least one finite sample (or
 * 60 s pass), then asserts it query by query. Resolves to the results by
 * `"<panel title> <refId>"`.
 */
export async function assertDashboardReturnsData(t: Test, prom: PrometheusServer): Promise<Map<string, QueryResult>> {
  const queries = dashboardQueries();
  const results = new Map<string, QueryResult>();
  await poll(
    async () => {
      for (const q of queries) {
        const key = `${q.panel} ${q.refId}`;
        const known = results.get(key);
        if (known && hasFiniteSample(known)) continue;
        results.set(key, await prom.query(substituteGrafanaVariables(q.expr)));
      }
      return [...results.values()].every(hasFiniteSample) ? true : undefined;
    },
    60_000,
    500,
  );
  for (const q of queries) {
    const r = results.get(`${q.panel} ${q.refId}`);
    t.ok(r && hasFiniteSample(r), `${q.panel} ${q.refId} returns data: ${q.expr}`, { result: r });
  }
  return results;
}

/** Waits until every alert rule has been evaluated (30 s at most) and asserts health "ok". */
export async function assertRulesHealthy(t: Test, prom: PrometheusServer): Promise<void> {
  const expected = alertRules().map((r) => r.alert);
  const rules = await poll(async () => {
    const rs = await prom.rules();
    return rs.length === expected.length && rs.every((r) => r.health !== 'unknown') ? rs : undefined;
  }, 30_000);
  t.same((rules ?? []).map((r) => r.name), expected, 'every rule loaded');
  for (const r of rules ?? []) t.equal(r.health, 'ok', `${r.name} evaluates`, { lastError: r.lastError });
}

/** Waits (30 s at most) until Prometheus has scraped the ztproxy job successfully. */
export async function waitForScrape(t: Test, prom: PrometheusServer): Promise<void> {
  const up = await poll(async () => {
    const r = await prom.query('up{job="ztproxy"}');
    return r.data?.result[0]?.value[1] === '1' ? true : undefined;
  }, 30_000);
  t.ok(up, 'the target is scraped');
}

/** One sample of Prometheus text. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text format 0.0.4 (enough of it for ztproxy's own output). */
export function parseSamples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

/** Sum of the samples named `name` whose labels include `match`. */
export function sumOf(samples: Sample[], name: string, match: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}
