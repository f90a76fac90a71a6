/**
 * pino setup: JSON lines to stdout through an asynchronous destination, so
 * logging never blocks the request path. Secrets are redacted.
 */
import { pino, type Logger } from 'pino';
import { flushAccessLogs } from './access-log.js';

export interface LoggerHandle {
  readonly log: Logger;
  /** Writes what is buffered; call before exit. */
  flush(): void;
}

/**
 * Writes are asynchronous; while one is in flight, SonicBoom gathers the
 * lines that follow into the next write, so under load there are few
 * syscalls, and at rest each line (an error above all) appears at once.
 * `minLength` > 0 would hold lines back until that many bytes are pending.
 */
export function createLogger(level: string, base: Record<string, unknown> = {}, minLength = 0): LoggerHandle {
  const dest = pino.destination({ dest: 1, sync: false, minLength });
  const log = pino(
    {
      level,
      base: { pid: process.pid, ...base },
      // Explicit paths, no wildcards: a wildcard makes pino walk every logged object.
      // ztproxy never logs request headers; these guard against a future mistake.
      redact: { paths: ['headers.authorization', 'headers.cookie', 'headers["proxy-authorization"]', 'passphrase', 'key'], censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    dest,
  );
  return {
    log,
    flush() {
      flushAccessLogs();
      try {
        dest.flushSync();
      } catch {
        // not ready yet (nothing written): nothing to flush
      }
    },
  };
}
