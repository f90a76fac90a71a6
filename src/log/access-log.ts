/**
 * The access log: one JSON line per request, in the same shape as every
 * other pino line (`level`, `time`, the logger's bindings, the record,
 * `msg`), written to the logger's own destination, but batched.
 *
 * Through `logger.info()` a line cost about 8 µs of CPU under load, 8 % of a
 * proxied keep-alive request: pino's generic serialization and redaction,
 * then SonicBoom's `write`, which measures the byte length of its whole
 * pending buffer on every call and starts an `fs.write` on the thread pool
 * for nearly every line (a thread hand-off each). Here a line is one
 * `JSON.stringify` of a flat record (no secrets in it, nothing to redact),
 * kept in an array; the lines reach the destination together, like nginx's
 * `access_log … buffer=16k flush=50ms`: once 16 KiB are pending, or 50 ms
 * after the first pending line, whichever comes first. `flush()` writes
 * them at once (before exit and on close).
 */
import { pino, type Logger } from 'pino';

/** Message of every access-log line (constant, grep-able). */
export const ACCESS_MSG = 'request completed';

/** One record; values are strings, numbers, booleans or null (undefined fields are left out, as pino does). */
export type AccessRecord = Record<string, string | number | boolean | null | undefined>;

type Destination = { write(chunk: string): unknown };

const SUFFIX = `,"msg":${JSON.stringify(ACCESS_MSG)}}\n`;
/** Pending characters that trigger a write (SonicBoom writes at most 16 KiB per call). */
const FLUSH_CHARS = 16 * 1024;
/** Longest a line waits for its batch. */
export const ACCESS_FLUSH_MS = 50;

/** Time source of an {@link AccessLog}: the `time` of a line and the batch timer. Tests inject a manual one. */
export interface AccessLogClock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` once after `ms`; never what keeps the process alive. */
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock: `Date.now()` and unref'd Node timers. */
const realClock: AccessLogClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(), // exit paths call flush()
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Options of {@link AccessLog}. */
export interface AccessLogOptions {
  /** Default: the real clock. */
  clock?: AccessLogClock;
}

/** Pending writers, flushed by {@link flushAccessLogs} (at exit, before the destination's own flush). */
const live = new Set<AccessLog>();

export class AccessLog {
  readonly #log: Logger;
  readonly #dest: Destination;
  /** `,"pid":…,"role":…`: the logger's bindings as pino serializes them. */
  readonly #bindings: string;
  readonly #clock: AccessLogClock;
  #lines: string[] = [];
  #chars = 0;
  #timer: unknown = null;
  #lastMs = 0;
  #lastTime = '';

  constructor(log: Logger, options: AccessLogOptions = {}) {
    this.#log = log;
    this.#clock = options.clock ?? realClock;
    const internals = log as unknown as Record<symbol, unknown>;
    this.#dest = internals[pino.symbols.streamSym] as Destination;
    // pino's own serialized bindings (base and child bindings; `bindings()` leaves out pid and hostname).
    this.#bindings = (internals[pino.symbols.chindingsSym] as string | undefined) ?? '';
  }

  /** Queues one line; written with its batch (see above). Nothing when the logger's level is above info. */
  write(record: AccessRecord): void {
    if (!this.#log.isLevelEnabled('info')) return;
    const ms = this.#clock.now();
    if (ms !== this.#lastMs) {
      this.#lastMs = ms;
      this.#lastTime = new Date(ms).toISOString();
    }
    const body = JSON.stringify(record);
    const fields = body.length > 2 ? `,${body.slice(1, -1)}` : '';
    const line = `{"level":"info","time":"${this.#lastTime}"${this.#bindings}${fields}${SUFFIX}`;
    this.#lines.push(line);
    this.#chars += line.length;
    if (this.#chars >= FLUSH_CHARS) this.flush();
    else if (this.#timer === null) {
      live.add(this);
      this.#timer = this.#clock.setTimeout(this.#onTimer, ACCESS_FLUSH_MS);
    }
  }

  #onTimer = (): void => {
    this.#timer = null;
    this.flush();
  };

  /** Hands the queued lines to the destination now. */
  flush(): void {
    if (this.#timer !== null) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = null;
    }
    live.delete(this);
    if (this.#lines.length === 0) return;
    const chunk = this.#lines.length === 1 ? this.#lines[0]! : this.#lines.join('');
    this.#lines = [];
    this.#chars = 0;
    this.#dest.write(chunk);
  }
}

/** Writes every queued access line to its destination (call before flushing the destinations at exit). */
export function flushAccessLogs(): void {
  for (const a of [...live]) a.flush();
}
