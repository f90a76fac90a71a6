/**
 * Tests that drive a system tool (nginx, Prometheus, promtool) skip without
 * it on a developer's machine, with the reason. Never in CI: `.ci/run`
 * installs every tool and sets ZTPROXY_REQUIRE_TOOLS=1, under which a
 * missing tool fails the test file, so a broken install cannot turn into a
 * green run that tested less.
 */

/** tap's `skip` option: false when the tool is present; the reason when absent; throws when tools are required. */
export function skipUnlessInstalled(present: boolean, tool: string): string | false {
  if (present) return false;
  if (process.env.ZTPROXY_REQUIRE_TOOLS === '1') throw new Error(`${tool} is not installed, and ZTPROXY_REQUIRE_TOOLS=1 requires it`);
  return `${tool} not installed`;
}
