/**
 * Watches the TLS files of a config so that a renewal by an ACME client or
 * `ztproxy ca renew` needs no signal. Tools replace files by rename (`mv
 * new crl.pem`), which a watch on the file itself misses (the watch follows
 * the old inode), so the directories are watched. An event naming a watched
 * file triggers a reload. Any other event in the directory triggers one when
 * a watched file now resolves to something else: that is how a Kubernetes
 * Secret or ConfigMap volume updates (`crl.pem -> ..data/crl.pem`, and the
 * `..data` symlink swapped by rename to a new timestamped directory), with
 * events naming only `..data` and `..data_tmp`. Changes are debounced: a
 * renewal that writes the certificate and then the key triggers one reload.
 */
import { statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

/** What a path resolves to now (through symlinks): inode, size, times; '' when it cannot be read. */
function identity(path: string): string {
  try {
    const s = statSync(path, { bigint: true });
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch {
    return '';
  }
}

export class MaterialWatcher {
  readonly #watchers: FSWatcher[] = [];
  readonly #files: string[];
  #seen: string[];
  #timer: NodeJS.Timeout | null = null;
  /** Whether the pending timer fires for a watched name (else only if a file resolves differently). */
  #named = false;

  /**
   * Calls `onChange` (at most once per `debounceMs`) after any of `files`
   * is written, replaced, re-pointed through a symlink, or removed.
   * Directories that cannot be watched are skipped (SIGHUP still works).
   */
  constructor(files: readonly string[], onChange: () => void, debounceMs = 500) {
    this.#files = files.map((f) => resolve(f));
    this.#seen = this.#files.map(identity);
    const byDir = new Map<string, Set<string>>();
    for (const abs of this.#files) {
      const set = byDir.get(dirname(abs)) ?? new Set<string>();
      set.add(basename(abs));
      byDir.set(dirname(abs), set);
    }
    const fire = () => {
      this.#timer = null;
      const now = this.#files.map(identity);
      const changed = now.some((v, i) => v !== this.#seen[i]);
      this.#seen = now;
      if (changed || this.#named) onChange();
      this.#named = false;
    };
    for (const [dir, names] of byDir) {
      try {
        const w = watch(dir, { persistent: false }, (_event, name) => {
          if (name === null || names.has(String(name))) this.#named = true;
          if (this.#timer) clearTimeout(this.#timer);
          this.#timer = setTimeout(fire, debounceMs);
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
