import { ZtpError } from './errors.js';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };

/**
 * Parses `90s`, `15m`, `8h`, `30d`, `2w`, `10y` (a year is 365 days) into
 * seconds. Throws `ZTP_DURATION` naming the input on anything else, including
 * zero and negative values.
 */
export function parseDurationSeconds(text: string, what = 'duration'): number {
  const m = /^([0-9]{1,9})([smhdwy])$/.exec(String(text).trim());
  if (!m) throw new ZtpError('ZTP_DURATION', `${what}: expected a duration like 8h, 30d or 10y, got ${JSON.stringify(text)}`);
  const n = Number(m[1]) * UNIT_SECONDS[m[2] as string]!;
  if (n <= 0) throw new ZtpError('ZTP_DURATION', `${what}: must be greater than zero, got ${JSON.stringify(text)}`);
  return n;
}
