import { ZtpError, type ErrorCode } from './errors.js';

/** One problem of a document: the key path (`routes[0].upstream.url`) and what is wrong there. */
export interface Problem {
  /** Key path in JavaScript notation, `routes[0].upstream.url`; `(top level)` for the document itself. */
  readonly path: string;
  /** What was expected and what was found, without the path. */
  readonly message: string;
  /** True when the problem is a key the schema does not know (a typo, never a silently ignored setting). */
  readonly unknownKey?: boolean;
}

/**
 * A ZtpError carrying every problem found in a document (config, inventory),
 * so a caller can show them all at once and a test can match on key paths
 * rather than on message text. The message lists them after `heading`: one
 * per line, or on one line separated by `; ` when `oneLine` is set.
 */
export class ValidationError extends ZtpError {
  readonly problems: readonly Problem[];

  constructor(code: ErrorCode, heading: string, problems: readonly Problem[], options: { oneLine?: boolean } = {}) {
    const lines = problems.map((p) => `${p.path}: ${p.message}`);
    super(code, options.oneLine ? `${heading}: ${lines.join('; ')}` : `${heading}:\n  ${lines.join('\n  ')}`);
    this.problems = problems;
  }
}
