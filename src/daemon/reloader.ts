/**
 * The one reload path of every mode: a reload runs one at a time (a trigger
 * during a reload queues exactly one more, which reads the files as they are
 * then), optionally watches the files of the config in force, and reports a
 * failure as `ZTP_RELOAD` while the old config keeps serving.
 */
import type { Logger } from 'pino';
import type { ResolvedConfig } from '../config/index.js';
import { describeError, ZtpError } from '../util/index.js';
import { MaterialWatcher } from '../tls/index.js';

export interface ReloaderOptions {
  readonly log: Logger;
  /**
   * One reload: resolves to the config now in force, rejects (and changes
   * nothing) when the new config or material does not load.
   */
  readonly apply: () => Promise<ResolvedConfig>;
  /** Watch the files of the config in force (absent in cluster workers, whose primary watches). */
  readonly watch?: {
    /** The config in force at start. */
    readonly config: ResolvedConfig;
    /** The files of a config whose change triggers a reload. */
    readonly files: (config: ResolvedConfig) => string[];
  };
}

export class Reloader {
  readonly #o: ReloaderOptions;
  /** Guards against two reloads at once: a trigger while set only raises #again. */
  #running: Promise<void> | null = null;
  #again: string | null = null;
  #watcher: MaterialWatcher | null = null;
  #closed = false;

  constructor(o: ReloaderOptions) {
    this.#o = o;
    if (o.watch) this.#watch(o.watch.config);
  }

  /** Reloads now, or once more after the running reload. Never rejects: a failure is logged. */
  reload(trigger: string): void {
    if (this.#closed) return;
    if (this.#running) {
      this.#again = trigger;
      return;
    }
    this.#running = this.#run(trigger).finally(() => {
      this.#running = null;
      const again = this.#again;
      this.#again = null;
      if (again !== null) this.reload(again);
    });
  }

  async #run(trigger: string): Promise<void> {
    try {
      const config = await this.#o.apply();
      this.#o.log.info({ trigger }, 'config reloaded');
      this.#watch(config);
    } catch (cause) {
      const err = new ZtpError('ZTP_RELOAD', `reload on ${trigger}`, { cause });
      this.#o.log.error({ err, code: err.code, trigger, reason: describeError(cause) }, 'reload failed; old config keeps serving');
    }
  }

  #watch(config: ResolvedConfig): void {
    if (!this.#o.watch || this.#closed) return;
    this.#watcher?.close();
    this.#watcher = new MaterialWatcher(this.#o.watch.files(config), () => this.reload('file change'));
  }

  /** Stops watching; later triggers are ignored (the process is stopping). */
  close(): void {
    this.#closed = true;
    this.#again = null;
    this.#watcher?.close();
  }
}
