import { mkdir } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize } from 'node:path';
import { ZtpError } from '../util/index.js';
import { writeFileAtomic } from '../util/index.js';
import type { RenderedFile } from './render-hosts.js';

/**
 * Writes rendered files under `outDir`, each atomically with its own mode
 * (wg0.conf 0600). Paths are checked first, so a bad path writes nothing.
 * Files of hosts no longer in the inventory are left alone. Throws
 * `ZTP_HOSTS_WRITE` on a failed write (files before it stay written, each
 * complete: rendering is deterministic, so re-running is the fix).
 */
export async function writeRendered(outDir: string, files: ReadonlyMap<string, RenderedFile>): Promise<string[]> {
  for (const rel of files.keys()) {
    if (isAbsolute(rel) || normalize(rel).split(/[\\/]/).includes('..')) {
      throw new ZtpError('ZTP_INTERNAL', `rendered path ${rel} escapes the output directory`);
    }
  }
  const written: string[] = [];
  for (const [rel, file] of files) {
    const path = join(outDir, rel);
    try {
      await mkdir(dirname(path), { recursive: true, mode: 0o755 });
      await writeFileAtomic(path, file.content, file.mode);
    } catch (cause) {
      throw new ZtpError('ZTP_HOSTS_WRITE', `writing ${path}`, { cause });
    }
    written.push(path);
  }
  return written;
}
