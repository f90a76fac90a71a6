/**
 * The Node.js lines ztproxy knows the end of life of, and what `--version`
 * prints about the runtime. Node 24 LTS is the runtime ztproxy is tested on
 * and recommends; Node 20 still runs it (`engines`), but past its end of
 * life a security daemon should say so at start.
 */
import { VERSION } from './version.js';

/**
 * End of life of each Node.js release line (nodejs/Release schedule, dates
 * UTC). A line newer than the table is not warned about; a line older than
 * its first entry is past its end of life.
 */
export const NODE_END_OF_LIFE: ReadonlyMap<number, string> = new Map([
  [18, '2025-04-30'],
  [19, '2023-06-01'],
  [20, '2026-04-30'],
  [21, '2024-06-01'],
  [22, '2027-04-30'],
  [23, '2025-06-01'],
  [24, '2028-04-30'],
  [25, '2026-06-01'],
  [26, '2029-04-30'],
]);

/** The Node.js line ztproxy recommends. */
export const RECOMMENDED_NODE = 24;

export interface NodeLineStatus {
  readonly major: number;
  /** End of life of the line (YYYY-MM-DD), null when the table does not know the line. */
  readonly endOfLife: string | null;
  /** True once `now` is past the end of the end-of-life day. */
  readonly pastEndOfLife: boolean;
}

/** Where `version` (`v20.20.2`) stands on `now`. */
export function nodeLineStatus(version: string = process.version, now: Date = new Date()): NodeLineStatus {
  const major = Number(/^v?(\d+)\./.exec(version)?.[1] ?? NaN);
  const oldest = Math.min(...NODE_END_OF_LIFE.keys());
  if (!Number.isInteger(major)) return { major: NaN, endOfLife: null, pastEndOfLife: false };
  if (major < oldest) return { major, endOfLife: null, pastEndOfLife: true };
  const eol = NODE_END_OF_LIFE.get(major) ?? null;
  const past = eol !== null && now.getTime() >= Date.parse(`${eol}T00:00:00Z`) + 86_400_000;
  return { major, endOfLife: eol, pastEndOfLife: past };
}

/** `ztproxy --version`: the package version on the first line, then the runtime and its OpenSSL. */
export function versionText(now: Date = new Date()): string {
  const s = nodeLineStatus(process.version, now);
  const eol = s.endOfLife === null ? '' : ` (end of life ${s.endOfLife}${s.pastEndOfLife ? ', passed' : ''})`;
  return `${VERSION}\nnode ${process.version}${eol}\nopenssl ${process.versions.openssl}`;
}
