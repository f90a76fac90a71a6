/**
 * skipUnlessInstalled: a missing tool skips a test on a developer's
 * machine, but fails it under ZTPROXY_REQUIRE_TOOLS=1 (what .ci/run sets),
 * so CI never passes by testing less.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { skipUnlessInstalled } from '../helpers/tools.js';

t.test('present, absent, absent but required', async (t) => {
  const saved = process.env.ZTPROXY_REQUIRE_TOOLS;
  t.teardown(() => {
    if (saved === undefined) delete process.env.ZTPROXY_REQUIRE_TOOLS;
    else process.env.ZTPROXY_REQUIRE_TOOLS = saved;
  });
  delete process.env.ZTPROXY_REQUIRE_TOOLS;
  t.equal(skipUnlessInstalled(true, 'nginx'), false, 'present: runs');
  t.equal(skipUnlessInstalled(false, 'nginx'), 'nginx not installed', 'absent: skipped, with the reason');
  t.equal(skipUnlessInstalled(false, 'strace', 'apt-get install strace'), 'strace not installed (apt-get install strace)', 'with where it comes from');
  process.env.ZTPROXY_REQUIRE_TOOLS = '1';
  t.equal(skipUnlessInstalled(true, 'nginx'), false);
  t.throws(() => skipUnlessInstalled(false, 'nginx'), /nginx is not installed, and ZTPROXY_REQUIRE_TOOLS=1 requires it/, 'absent but required: fails');
});

t.test('.ci/run requires the tools it installs', async (t) => {
  const run = readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8');
  t.match(run, /^export ZTPROXY_REQUIRE_TOOLS=1$/m);
  t.ok(run.indexOf('ZTPROXY_REQUIRE_TOOLS=1') < run.indexOf('npm test'), 'set before the tests run');
});
