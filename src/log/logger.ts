/**
 * pino setup: JSON lines to stdout through an asynchronous destination, so
 * logging never blocks the request path. Secrets are redacted.
 */
import { pino, type Logger } from 'pino';

export interface LoggerHandle {
  readonly log: Logger;
  /** Writes what is buffered; call before exit. */
  flush(): void;
}

/**
 * `minLength` batches writes (4 KiB default): fewer syscalls under load, at
 * the price of lines appearing in bursts; the dev mode passes 0.
 */
export function createLogger(level: string, base: Record<string, unknown> = {}, minLength = 4096): LoggerHandle {
  const dest = pino.destination({ dest: 1, sync: false, minLength });
  const log = pino(
    {
      level,
      base: { pid: process.pid, ...base },
      redact: { paths: ['*.authorization', '*.cookie', '*.passphrase', '*.key', 'headers.authorization', 'headers.cookie'], censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    dest,
  );
  return {
    log,
    flush() {
      try {
        dest.flushSync();
      } catch {
        // not ready yet (nothing written): nothing to flush
      }
    },
  };
}
