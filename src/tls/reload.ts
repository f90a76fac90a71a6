/**
 * Watches the TLS files of a config so that a renewal by an ACME client or
 * `ztproxy ca renew` needs no signal. Tools replace files by rename, which
 * a watch on the file itself misses, so the directories are watched and
 * events filtered by name. Changes are debounced: a renewal that writes the
 * certificate and then the key triggers one reload.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

export class MaterialWatcher {
  readonly #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | null = null;

  /**
   * Calls `onChange` (at most once per `debounceMs`) after any of `files`
   * is written, replaced or removed. Directories that cannot be watched are
   * skipped (SIGHUP still works).
   */
  constructor(files: readonly string[], onChange: () => void, debounceMs = 500) {
    const byDir = new Map<string, Set<string>>();
    for (const f of files) {
      const abs = resolve(f);
      const set = byDir.get(dirname(abs)) ?? new Set<string>();
      set.add(basename(abs));
      byDir.set(dirname(abs), set);
    }
    for (const [dir, names] of byDir) {
      try {
        const w = watch(dir, { persistent: false }, (_event, name) => {
          if (name !== null && !names.has(String(name))) return;
          if (this.#timer) clearTimeout(this.#timer);
          this.#timer = setTimeout(() => {
            this.#timer = null;
            onChange();
          }, debounceMs);
          this.#timer.unref();
        });
        w.on('error', () => w.close());
        this.#watchers.push(w);
      } catch {
        // unwatchable (permissions, inotify limits): reloads then need SIGHUP
      }
    }
  }

  close(): void {
    for (const w of this.#watchers) w.close();
    if (this.#timer) clearTimeout(this.#timer);
  }
}
