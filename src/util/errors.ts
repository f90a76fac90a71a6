/**
 * The single error type of ztproxy and the registry of its codes.
 *
 * Codes are the contract: callers and tests match on `err.code`, never on the
 * message. Every code here is documented in docs/errors.md, and a test fails
 * when the two disagree.
 */

/** Exit codes, used only by `src/main.ts`. */
export const EXIT = { ok: 0, runtime: 1, usage: 2, invalid: 3 } as const;

/** Every code ztproxy can throw, with the exit code the CLI maps it to. */
export const ERROR_CODES = {
  ZTP_USAGE: EXIT.usage,
  ZTP_CONFIG_READ: EXIT.invalid,
  ZTP_CONFIG_PARSE: EXIT.invalid,
  ZTP_CONFIG_INVALID: EXIT.invalid,
  ZTP_CONFIG_UNKNOWN_KEY: EXIT.invalid,
  ZTP_CONFIG_INSECURE_UPSTREAM: EXIT.invalid,
  ZTP_TLS_MATERIAL: EXIT.invalid,
  ZTP_TLS_KEY_MISMATCH: EXIT.invalid,
  ZTP_TLS_DER: EXIT.invalid,
  ZTP_LISTEN: EXIT.runtime,
  ZTP_RELOAD: EXIT.runtime,
  ZTP_UPSTREAM_RESPONSE: EXIT.runtime,
  ZTP_CA_EXISTS: EXIT.invalid,
  ZTP_CA_NOT_FOUND: EXIT.invalid,
  ZTP_CA_INVALID_INPUT: EXIT.usage,
  ZTP_CA_PASSPHRASE: EXIT.invalid,
  ZTP_CA_TTL: EXIT.invalid,
  ZTP_CA_CSR_INVALID: EXIT.invalid,
  ZTP_CA_NO_SUCH_CERT: EXIT.invalid,
  ZTP_CA_LOCKED: EXIT.runtime,
  ZTP_CA_STORE: EXIT.invalid,
  ZTP_CA_ISSUE: EXIT.runtime,
  ZTP_SSHCA_EXISTS: EXIT.invalid,
  ZTP_SSHCA_NOT_FOUND: EXIT.invalid,
  ZTP_SSHCA_INVALID_KEY: EXIT.invalid,
  ZTP_SSHCA_INVALID_INPUT: EXIT.usage,
  ZTP_SSHCA_NO_SUCH_CERT: EXIT.invalid,
  ZTP_SSHCA_STORE: EXIT.invalid,
  ZTP_HOSTS_INVALID: EXIT.invalid,
  ZTP_HOSTS_READ: EXIT.invalid,
  ZTP_HOSTS_WRITE: EXIT.runtime,
  ZTP_POLICY_TEST: EXIT.invalid,
  ZTP_DURATION: EXIT.usage,
  ZTP_IO: EXIT.runtime,
  ZTP_INTERNAL: EXIT.runtime,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ZtpErrorOptions {
  cause?: unknown;
  /** HTTP status when the error reaches a client (proxy errors only). */
  httpStatus?: number;
  /** Override of the exit code the registry gives the code. */
  exitCode?: number;
}

/**
 * An error with a stable `code` from {@link ERROR_CODES}. Wrap third-party
 * errors at each boundary: `new ZtpError('ZTP_CA_ISSUE', 'issuing cn=alice', { cause })`.
 */
export class ZtpError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;
  readonly httpStatus: number | undefined;

  constructor(code: ErrorCode, message: string, options: ZtpErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ZtpError';
    this.code = code;
    this.exitCode = options.exitCode ?? ERROR_CODES[code];
    this.httpStatus = options.httpStatus;
  }
}

/** True when `err` is a ZtpError, optionally with the given code. */
export function isZtpError(err: unknown, code?: ErrorCode): err is ZtpError {
  return err instanceof ZtpError && (code === undefined || err.code === code);
}

/**
 * What the CLI reports for an error that escaped every boundary: a ZtpError as
 * it is; a Node system error (ENOENT, EACCES, ENOSPC, …) as `ZTP_IO` naming
 * the file or address it names; anything else as `ZTP_INTERNAL` (a bug).
 */
export function asZtpError(err: unknown): ZtpError {
  if (err instanceof ZtpError) return err;
  const sys = err as (NodeJS.ErrnoException & { dest?: string; address?: string }) | undefined;
  if (sys instanceof Error && typeof sys.code === 'string' && /^E[A-Z]+$/.test(sys.code)) {
    const where = sys.path ?? sys.dest ?? sys.address;
    return new ZtpError('ZTP_IO', where === undefined ? `${sys.syscall ?? 'i/o'} failed` : `${where}: ${sys.syscall ?? 'i/o'} failed`, { cause: err });
  }
  return new ZtpError('ZTP_INTERNAL', 'unexpected error', { cause: err });
}

/** One line for humans: the message, then each cause's message after `: `. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 5; depth++) {
    const msg = cur instanceof Error ? cur.message : String(cur);
    if (msg && !parts.includes(msg)) parts.push(msg);
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return parts.join(': ');
}
