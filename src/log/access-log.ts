/**
 * The access log: one JSON line per request, in the same shape as every
 * other pino line (`level`, `time`, the logger's bindings, the record,
 * `msg`), written to the logger's own destination, but batched.
 *
 * Through `logger.info()` a line cost about 8 µs of CPU under load, 8 % of a
 * proxied keep-alive request: pino's generic serialization and redaction,
 * then SonicBoom's `write`, which measures the byte length of its whole
 * pending buffer on every call and starts an `fs.write` on the thread pool
 * for nearly every line. Here a line is one `JSON.stringify` of a flat
 * record (no secrets in it, nothing to redact), kept in an array, and the
 * lines of one event-loop turn reach the destination as one string on the
 * next turn (`setImmediate`): one destination write per turn, not per
 * request. Lines are never held longer than that, and `flush()` writes them
 * at once (before exit).
 */
import { pino, type Logger } from 'pino';

/** Message of every access-log line (constant, grep-able). */
export const ACCESS_MSG = 'request completed';

/** One record; values are strings, numbers, booleans or null (undefined fields are left out, as pino does). */
export type AccessRecord = Record<string, string | number | boolean | null | undefined>;

type Destination = { write(chunk: string): unknown };

const SUFFIX = `,"msg":${JSON.stringify(ACCESS_MSG)}}\n`;

/** Pending writers, flushed by {@link flushAccessLogs} (at exit, before the destination's own flush). */
const live = new Set<AccessLog>();

export class AccessLog {
  readonly #log: Logger;
  readonly #dest: Destination;
  /** `,"pid":…,"role":…`: the logger's bindings as pino serializes them. */
  readonly #bindings: string;
  #lines: string[] = [];
  #scheduled = false;
  #lastMs = 0;
  #lastTime = '';

  constructor(log: Logger) {
    this.#log = log;
    const internals = log as unknown as Record<symbol, unknown>;
    this.#dest = internals[pino.symbols.streamSym] as Destination;
    // pino's own serialized bindings (base and child bindings; `bindings()` leaves out pid and hostname).
    this.#bindings = (internals[pino.symbols.chindingsSym] as string | undefined) ?? '';
  }

  /** Queues one line; written with the others of this event-loop turn. Nothing when the logger's level is above info. */
  write(record: AccessRecord): void {
    if (!this.#log.isLevelEnabled('info')) return;
    const ms = Date.now();
    if (ms !== this.#lastMs) {
      this.#lastMs = ms;
      this.#lastTime = new Date(ms).toISOString();
    }
    const body = JSON.stringify(record);
    const fields = body.length > 2 ? `,${body.slice(1, -1)}` : '';
    this.#lines.push(`{"level":"info","time":"${this.#lastTime}"${this.#bindings}${fields}${SUFFIX}`);
    if (!this.#scheduled) {
      this.#scheduled = true;
      live.add(this);
      setImmediate(this.#flushSoon);
    }
  }

  #flushSoon = (): void => this.flush();

  /** Hands the queued lines to the destination now. */
  flush(): void {
    this.#scheduled = false;
    live.delete(this);
    if (this.#lines.length === 0) return;
    const chunk = this.#lines.length === 1 ? this.#lines[0]! : this.#lines.join('');
    this.#lines = [];
    this.#dest.write(chunk);
  }
}

/** Writes every queued access line to its destination (call before flushing the destinations at exit). */
export function flushAccessLogs(): void {
  for (const a of [...live]) a.flush();
}
