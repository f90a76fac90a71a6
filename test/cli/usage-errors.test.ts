// A usage error looks the same whatever the command: through the built CLI,
// every command group refuses a bad command line with one `error:` line, one
// hint (main.ts prints it for ZTP_USAGE only) and ZTP_USAGE's exit code from
// docs/errors.md, and writes nothing to stdout. Covers what yargs refuses
// (unknown or missing flag, a flag without value, bad choice, conflicting
// flags) and what a handler refuses (`serve` with nothing to serve).
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHILD_ENV, MAIN } from '../helpers/cli.js';

const docs = readFileSync(join(import.meta.dirname, '../../docs/errors.md'), 'utf8');
const usageExit = Number(/^\| `ZTP_USAGE` \| (\d+) \|/m.exec(docs)?.[1]);

function ztproxy(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [MAIN, ...args], { env: CHILD_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

// About 18 CLI starts: slow on a loaded 2-core host, so more room than the default 120 s.
t.setTimeout(360_000);

/** The command groups `ztproxy --help` lists. */
async function groups(): Promise<string[]> {
  const help = await ztproxy(['--help']);
  return [...help.stdout.matchAll(/^ {2}ztproxy ([a-z-]+)/gm)].map((m) => m[1]!);
}

t.test('every command group: one error line, one hint, the usage exit code', { skip: existsSync(MAIN) ? false : 'dist/main.js missing: run npm run build' }, async (t) => {
  t.equal(usageExit, 2, 'docs/errors.md lists ZTP_USAGE with exit 2');
  const dir = t.testdir();
  const store = join(dir, 'store');
  const cases: [group: string, args: string[]][] = [
    ['', []],
    ['', ['no-such-command']],
    ['serve', ['serve', '--bogus']],
    ['serve', ['serve']],
    ['ca', ['ca']],
    ['ca', ['ca', 'issue-client', '--dir', store, '--cn', 'x', '--bogus']],
    ['ca', ['ca', 'issue-client', '--dir', store, '--cn']],
    ['ca', ['ca', 'revoke', '--dir', store, '--serial', '01', '--cn', 'x']],
    ['ca', ['ca', 'revoke', '--dir', store, '--cn', 'x', '--reason', 'bored']],
    ['ssh-ca', ['ssh-ca']],
    ['ssh-ca', ['ssh-ca', 'sign', '--dir', store, '--key', join(dir, 'id.pub'), '--identity', 'a', '--principals', 'root', '--bogus']],
    ['ssh-ca', ['ssh-ca', 'init', '--dir', store, '--key-type', 'dsa']],
    ['ssh-ca', ['ssh-ca', 'revoke', '--dir', store]],
    ['hosts', ['hosts']],
    ['hosts', ['hosts', 'render', '--out-dir', join(dir, 'out')]],
    ['policy', ['policy']],
    ['policy', ['policy', 'test', '--config', join(dir, 'ztproxy.yaml')]],
  ];
  const listed = await groups();
  t.ok(listed.length >= 5, `--help lists the command groups: ${listed.join(', ')}`);
  for (const g of listed) t.ok(cases.some(([c]) => c === g), `a usage error case for ${g}`);

  // Four at a time: each start of the CLI costs about a second on a loaded host.
  const results: Awaited<ReturnType<typeof ztproxy>>[] = [];
  for (let i = 0; i < cases.length; i += 4) results.push(...(await Promise.all(cases.slice(i, i + 4).map(([, args]) => ztproxy(args)))));
  cases.forEach(([, args], i) => {
    const r = results[i]!;
    const what = `ztproxy ${args.join(' ').replaceAll(dir, 'DIR')}`;
    t.equal(r.code, usageExit, `${what}: exit code`, { stderr: r.stderr });
    t.match(r.stderr, /^error: [^\n]+\nrun "ztproxy --help" for usage\n$/, `${what}: one error line, then the hint`);
    t.equal(r.stderr.split('--help').length - 1, 1, `${what}: one hint`, { stderr: r.stderr });
    t.equal(r.stdout, '', `${what}: nothing on stdout`);
  });
  t.same(readdirSync(dir), [], 'nothing written');
});
