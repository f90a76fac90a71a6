/**
 * Tests that drive a system tool (nginx, Prometheus, openssl, curl, sshd,
 * nft, wg, strace, systemd-analyze, …) skip without it on a developer's
 * machine, with the reason. Never in CI: `.ci/run` installs every tool and
 * sets ZTPROXY_REQUIRE_TOOLS=1, under which a missing tool fails the test
 * file, so a broken install cannot turn into a green run that tested less.
 *
 * Every tool-dependent skip goes through {@link skipUnlessInstalled}; a skip
 * for anything else (a kernel feature, root, the runtime's OpenSSL) says so
 * in its reason and is not a tool.
 */
import { spawnSync } from 'node:child_process';

/** tap's `skip` option: false when the tool is present; the reason when absent; throws when tools are required. `hint`: where the tool comes from. */
export function skipUnlessInstalled(present: boolean, tool: string, hint?: string): string | false {
  if (present) return false;
  if (process.env.ZTPROXY_REQUIRE_TOOLS === '1') throw new Error(`${tool} is not installed, and ZTPROXY_REQUIRE_TOOLS=1 requires it`);
  return `${tool} not installed${hint ? ` (${hint})` : ''}`;
}

/** Whether `cmd` can be started (found on PATH and executable); its exit status does not matter. */
export function runs(cmd: string, args: string[] = ['--version']): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).error === undefined;
}
