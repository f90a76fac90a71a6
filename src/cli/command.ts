/**
 * The one shape of a ztproxy command. `builder` declares the flags and yargs
 * infers their types; `handler` receives exactly those types. A missing,
 * unknown or malformed flag never reaches a handler: main.ts's `.fail()`
 * throws `ZTP_USAGE` (exit 2) before any handler runs, for every command.
 */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { EXIT } from '../util/index.js';

export interface CommandSpec<A> {
  command: string;
  describe: string;
  builder: (y: Argv) => Argv<A>;
  /** Resolves to the exit code when it is not 0 (`policy test`: 1 when refused). */
  handler: (args: ArgumentsCamelCase<A>) => Promise<number | void>;
}

/**
 * A command whatever its flags: yargs types a handler by its own builder, so
 * a list of different commands (a group, main.ts's registry) holds them as this.
 */
export type AnyCommand = CommandModule<object, any>;

/** A leaf command; its handler's exit code is handed to main.ts through the parsed args. */
export function command<A>(spec: CommandSpec<A>): CommandModule<object, A> {
  return {
    command: spec.command,
    describe: spec.describe,
    builder: spec.builder,
    handler: async (args) => {
      const exitCode = await spec.handler(args);
      if (exitCode !== undefined) Object.assign(args, { exitCode });
    },
  };
}

/** The exit code a handler resolved to, from the args `parseAsync()` returned; 0 when none. */
export function exitCodeOf(args: { readonly [key: string]: unknown }): number {
  return typeof args.exitCode === 'number' ? args.exitCode : EXIT.ok;
}

/** A command group (`ztproxy ca …`): its subcommands, and the message when none is named. */
export function group(spec: { command: string; describe: string; commands: readonly AnyCommand[]; demand: string }): CommandModule<object, object> {
  return {
    command: spec.command,
    describe: spec.describe,
    builder: (y) => y.command([...spec.commands]).demandCommand(1, spec.demand),
    handler: () => {},
  };
}

function nonEmpty<V extends string | string[]>(flag: string): (value: V) => V {
  return (value) => {
    if (value.length === 0) throw new Error(`--${flag} needs a value`);
    return value;
  };
}

/**
 * A string flag the command cannot run without: yargs refuses it missing or
 * empty (`--cn` with no value) as a usage error, like any other.
 */
export function required(flag: string, describe: string) {
  return { type: 'string', demandOption: true, describe, coerce: nonEmpty<string>(flag) } as const;
}

/** A repeatable string flag needed at least once, with a value. */
export function requiredList(flag: string, describe: string) {
  return { type: 'string', array: true, demandOption: true, describe, coerce: nonEmpty<string[]>(flag) } as const;
}

/** Refuses both `--a` and `--b`, and neither, as a usage error. */
export function exactlyOne<A>(y: Argv<A>, a: keyof A & string, b: keyof A & string): Argv<A> {
  // A string result is yargs' way to fail a check with a message; a thrown error would pass for a handler's.
  return y.conflicts(a, b).check((args) => args[a] !== undefined || args[b] !== undefined || `give --${a} or --${b}`, false);
}

/**
 * Narrows a string flag to one of `values`, refusing anything else as a usage
 * error: yargs' `choices` for a list too long to print twice in `--help`.
 */
export function oneOf<const V extends string>(flag: string, values: readonly V[]): (value: string) => V {
  return (value) => {
    const found = values.find((v) => v === value);
    if (found === undefined) throw new Error(`--${flag}: expected one of ${values.join(', ')}, got ${JSON.stringify(value)}`);
    return found;
  };
}
