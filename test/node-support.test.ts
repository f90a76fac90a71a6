// The end-of-life table of Node.js lines, the start-up warning it drives, and
// what `--version` says about the runtime.
import t from 'tap';
import { warnRuntime } from '../src/daemon/notices.js';
import { NODE_END_OF_LIFE, nodeLineStatus, RECOMMENDED_NODE, versionText } from '../src/util/node-support.js';
import { memoryLogger } from './helpers/proxy.js';

t.test('end of life by line and date', async (t) => {
  const at = (d: string) => new Date(`${d}T12:00:00Z`);
  t.same(nodeLineStatus('v20.20.2', at('2026-04-30')), { major: 20, endOfLife: '2026-04-30', pastEndOfLife: false }, 'the last day is still supported');
  t.same(nodeLineStatus('v20.20.2', at('2026-05-01')), { major: 20, endOfLife: '2026-04-30', pastEndOfLife: true });
  t.equal(nodeLineStatus('v24.22.3', at('2026-12-02')).pastEndOfLife, false);
  t.equal(nodeLineStatus('v24.22.3', at('2028-05-01')).pastEndOfLife, true);
  t.equal(nodeLineStatus('v22.1.0', at('2027-05-01')).pastEndOfLife, true);
  t.equal(nodeLineStatus('v16.20.0', at('2020-01-01')).pastEndOfLife, true, 'older than the table: past');
  t.same(nodeLineStatus('v99.0.0', at('2030-01-01')), { major: 99, endOfLife: null, pastEndOfLife: false }, 'newer than the table: unknown, no warning');
  t.equal(nodeLineStatus('nonsense').pastEndOfLife, false);
  t.equal(NODE_END_OF_LIFE.get(RECOMMENDED_NODE), '2028-04-30');
  for (const [major, d] of NODE_END_OF_LIFE) t.match(d, /^\d{4}-\d\d-\d\d$/, `line ${major}`);
});

t.test('serve warns at start on a line past its end of life, and only then', async (t) => {
  const { log, logs } = memoryLogger();
  t.equal(warnRuntime(log, 'v20.20.2', new Date('2026-12-02T00:00:00Z')), true);
  t.equal(logs.length, 1);
  t.equal(logs[0]?.level, 40);
  t.match(logs[0], { node: 'v20.20.2', endOfLife: '2026-04-30', recommended: 'Node 24 LTS' });
  t.equal(warnRuntime(log, 'v24.22.3', new Date('2026-12-02T00:00:00Z')), false);
  t.equal(warnRuntime(log, 'v20.20.2', new Date('2026-01-02T00:00:00Z')), false, 'Node 20 before April 2026');
  t.equal(logs.length, 1);
});

t.test('--version text: package version, then node and openssl', async (t) => {
  const lines = versionText(new Date('2026-12-02T00:00:00Z')).split('\n');
  t.equal(lines.length, 3);
  t.match(lines[1], `node ${process.version}`);
  t.equal(lines[2], `openssl ${process.versions.openssl}`);
  if (process.version.startsWith('v20.')) t.equal(lines[1], `node ${process.version} (end of life 2026-04-30, passed)`);
  if (process.version.startsWith('v24.')) t.equal(lines[1], `node ${process.version} (end of life 2028-04-30)`);
});
