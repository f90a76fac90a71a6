import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { PROMTOOL, alertsPath, havePrometheus, root } from './prometheus-harness.js';
import { skipUnlessInstalled } from '../helpers/tools.js';

function promtool(...args: string[]): { status: number | null; output: string } {
  const r = spawnSync(PROMTOOL, args, { cwd: root, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

t.test('promtool accepts the alert rules and the example config', { skip: skipUnlessInstalled(havePrometheus, 'promtool') }, async (t) => {
  const rules = promtool('check', 'rules', alertsPath);
  t.equal(rules.status, 0, rules.output);
  t.match(rules.output, /SUCCESS: 5 rules found/);
  const config = promtool('check', 'config', join(root, 'config/prometheus/prometheus.yml'));
  t.equal(config.status, 0, config.output);
  t.match(config.output, /SUCCESS: 1 rule files found/);
});

t.test('each alert fires on its condition and stays quiet otherwise (promtool test rules)', { skip: skipUnlessInstalled(havePrometheus, 'promtool') }, async (t) => {
  const r = promtool('test', 'rules', join(root, 'test/metrics/fixtures/ztproxy-alerts.promtool-test.yml'));
  t.equal(r.status, 0, r.output);
  t.match(r.output, /SUCCESS/);
});
