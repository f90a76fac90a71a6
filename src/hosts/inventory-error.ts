import { ZtpError } from '../errors.js';

/** One problem in an inventory: the key path (`hosts[2].address`) and what is wrong there. */
export interface InventoryIssue {
  path: string;
  message: string;
}

/**
 * `ZTP_HOSTS_INVALID` carrying every problem found, so a caller can show them
 * all at once and a test can match on paths rather than on message text.
 */
export class InventoryInvalidError extends ZtpError {
  readonly issues: readonly InventoryIssue[];

  constructor(source: string, issues: readonly InventoryIssue[]) {
    const list = issues.map((i) => `${i.path}: ${i.message}`).join('; ');
    super('ZTP_HOSTS_INVALID', `inventory ${source} has ${issues.length} problem${issues.length === 1 ? '' : 's'}: ${list}`);
    this.issues = issues;
  }
}
