#!/usr/bin/env node
/**
 * The bin entry. `run(argv)` parses the command line, runs one command and
 * resolves to an exit code; this is the ONLY place that calls process.exit.
 * Exit codes: 0 ok, 1 runtime failure, 2 usage error, 3 invalid config or
 * TLS material (see src/util/errors.ts).
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { EXIT, ZtpError, asZtpError, describeError } from './util/index.js';
import { commandsFor, exitCodeOf } from './cli/index.js';
import { versionText } from './util/index.js';

/** Runs the CLI with `argv` (without node and script) and resolves to the exit code. */
export async function run(argv: string[]): Promise<number> {
  const parser = yargs(argv)
    .scriptName('ztproxy')
    .version(versionText())
    .strict()
    .demandCommand(1, 'name a command: serve, ca, ssh-ca, hosts or policy')
    .recommendCommands()
    .wrap(Math.min(100, process.stdout.columns || 100))
    // The one place usage errors are made, for every command. yargs calls this
    // for everything it refuses (unknown or missing flag, bad choice, a flag
    // with no value: a YError or no error at all) and for a handler's own
    // error, which passes through. Throwing stops yargs before any handler runs.
    .fail((msg: string | null, err: unknown) => {
      if (err instanceof Error && err.name !== 'YError') throw err;
      // One line, like every error (yargs writes "Invalid values:" and the values on two).
      throw new ZtpError('ZTP_USAGE', (msg ?? String(err)).replace(/\s*\n\s*/g, ' '));
    })
    .exitProcess(false);
  parser.command(await commandsFor(argv));
  try {
    return exitCodeOf(await parser.parseAsync());
  } catch (caught) {
    // The last boundary: whatever a command let through leaves as a ZtpError with a code.
    const err = asZtpError(caught);
    const hint = err.code === 'ZTP_USAGE' ? 'run "ztproxy --help" for usage\n' : '';
    process.stderr.write(`error: ${describeError(err)}\n${hint}`);
    return err.exitCode;
  }
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  run(process.argv.slice(2)).then(
    (code) => {
      // Long-running commands (serve, renew --daemon) resolve only when they are done.
      process.exitCode = code;
      if (code !== 0) process.exit(code);
      // A command that is done exits even if a handle outlives it (e.g. a socket still closing after a drain).
      setTimeout(() => process.exit(code), 500).unref();
    },
    (err) => {
      process.stderr.write(`error: ${describeError(err)}\n`);
      process.exit(EXIT.runtime);
    },
  );
}
