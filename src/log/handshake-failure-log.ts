/**
 * Rate-limited log lines for failed TLS handshakes.
 *
 * Handshake failures are driven by whoever can open a TCP connection:
 * scanners and misconfigured clients produce thousands a second, and one log
 * line each would turn the log into the bottleneck (and the disk into the
 * victim). The counter `ztproxy_tls_handshakes_total{result="failed"}` stays
 * exact; only the log lines are limited.
 */
import type { Logger } from 'pino';

/** Options of {@link HandshakeFailureLog}. */
export interface HandshakeFailureLogOptions {
  /** Lines written per interval before suppression starts. Default 10. */
  maxPerInterval?: number;
  /** Length of an interval in milliseconds. Default 1000 (so 10 lines a second). */
  intervalMs?: number;
  /** Clock in milliseconds; inject a fake one in tests. Default `performance.now()` (monotonic). */
  now?: () => number;
  /** Level of both the failure lines and the summary lines. Default `warn`. */
  level?: 'debug' | 'info' | 'warn' | 'error';
  /** Message of each line. Default {@link HANDSHAKE_FAILED_MSG}. */
  message?: string;
  /** Message of the summary line. Default {@link HANDSHAKE_SUPPRESSED_MSG}. */
  summaryMessage?: string;
}

/** Message of each logged failure (constant, grep-able). */
export const HANDSHAKE_FAILED_MSG = 'tls handshake failed';
/** Message of the summary line that counts the failures not logged in an interval. */
export const HANDSHAKE_SUPPRESSED_MSG = 'tls handshake failures suppressed';
/** Message of each logged aborted handshake (debug level). */
export const HANDSHAKE_ABORTED_MSG = 'tls handshake aborted by the client';
/** Message of the summary line of aborted handshakes not logged in an interval. */
export const HANDSHAKE_ABORTED_SUPPRESSED_MSG = 'tls handshake aborts suppressed';

/**
 * Logs at most `maxPerInterval` handshake failures per interval (fixed
 * windows, starting at the first failure after a quiet period), then one
 * summary line `{ suppressed: n }` for the interval.
 *
 * The class keeps no timer of its own: the summary of an interval is written
 * by the first `failed()` or `flush()` call after the interval ends. Call
 * `startAutoFlush()` once so that a burst followed by silence is still
 * summarised, and `close()` at shutdown. Never throws on logging.
 */
export class HandshakeFailureLog {
  readonly #log: Logger;
  readonly #max: number;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #level: 'debug' | 'info' | 'warn' | 'error';
  readonly #message: string;
  readonly #summaryMessage: string;
  /** Start of the current window, or undefined when no failure is pending. */
  #windowStart: number | undefined;
  #logged = 0;
  #suppressed = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(log: Logger, options: HandshakeFailureLogOptions = {}) {
    this.#log = log;
    this.#max = options.maxPerInterval ?? 10;
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#now = options.now ?? (() => performance.now());
    this.#level = options.level ?? 'warn';
    this.#message = options.message ?? HANDSHAKE_FAILED_MSG;
    this.#summaryMessage = options.summaryMessage ?? HANDSHAKE_SUPPRESSED_MSG;
  }

  /**
   * Records one failed handshake. `fields` (e.g. `{ reason, remoteAddress, err }`)
   * go into the line when it is written. Returns true when a line was written.
   */
  failed(fields: Record<string, unknown>): boolean {
    const now = this.#now();
    this.#roll(now);
    this.#windowStart ??= now;
    if (this.#logged < this.#max) {
      this.#logged++;
      this.#log[this.#level](fields, this.#message);
      return true;
    }
    this.#suppressed++;
    return false;
  }

  /** Writes the summary of a finished interval, if failures were suppressed in it. */
  flush(): void {
    this.#roll(this.#now());
  }

  /** Calls `flush()` every interval on an unref'd timer (it never keeps the process alive). */
  startAutoFlush(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => this.flush(), this.#intervalMs);
    this.#timer.unref();
  }

  /** Stops the auto-flush timer and writes the summary of the current interval now. */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#summarise();
  }

  #roll(now: number): void {
    if (this.#windowStart === undefined) return;
    // A clock that steps backwards (wall-clock adjustments) also ends the window.
    if (now - this.#windowStart >= this.#intervalMs || now < this.#windowStart) this.#summarise();
  }

  #summarise(): void {
    if (this.#suppressed > 0) this.#log[this.#level]({ suppressed: this.#suppressed }, this.#summaryMessage);
    this.#windowStart = undefined;
    this.#logged = 0;
    this.#suppressed = 0;
  }
}
