import { randomBytes } from 'node:crypto';
import { open, rename, unlink, mkdir, rmdir, stat } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { ZtpError } from './errors.js';

/**
 * Writes `data` to `path` so that a reader (or a crash) sees either the old
 * file or the complete new one, never a half-written file: temp file in the
 * same directory (created with `mode`, so a key is never readable by others
 * even for a moment), fsync, rename, fsync of the directory.
 * Default mode 0600: every caller writing public material says so.
 * @throws ZtpError `ZTP_IO` naming `path` when it cannot be written.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  try {
    await writeAtomically(path, data, mode);
  } catch (cause) {
    throw new ZtpError('ZTP_IO', `cannot write ${path}`, { cause });
  }
}

async function writeAtomically(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode); // umask may have cleared bits of `mode`; set it exactly
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  const dh = await open(dir, 'r').catch(() => undefined);
  if (dh) {
    await dh.sync().catch(() => {});
    await dh.close();
  }
}

/**
 * Runs `fn` holding an exclusive lock on `dir` (a `.lock` directory: mkdir is
 * atomic on every local file system). Waits up to `timeoutMs`; a lock older
 * than `staleMs` is taken over (its holder crashed). Throws `ZTP_CA_LOCKED`
 * when the lock cannot be had in time.
 */
export async function withDirLock<T>(dir: string, fn: () => Promise<T>, timeoutMs = 15000, staleMs = 60000): Promise<T> {
  const lock = join(dir, '.lock');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const st = await stat(lock).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > staleMs) {
        await rmdir(lock).catch(() => {});
        continue;
      }
      if (Date.now() > deadline) throw new ZtpError('ZTP_CA_LOCKED', `store ${dir} is locked by another process (${lock})`);
      await new Promise((r) => setTimeout(r, 10 + Math.random() * 40));
    }
  }
  try {
    return await fn();
  } finally {
    await rmdir(lock).catch(() => {});
  }
}
