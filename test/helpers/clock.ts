/**
 * A clock the test moves by hand, for code that takes an injected clock
 * (`now()`, `setTimeout`, `clearTimeout`): a test says "49 ms later" and
 * "one more" instead of sleeping and hoping the machine kept up.
 */
interface Timer {
  id: number;
  due: number;
  fn: () => void;
}

export class ManualClock {
  #now: number;
  #timers: Timer[] = [];
  #nextId = 1;

  /** `startMs`: the first `now()`, milliseconds since the epoch. */
  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.#now = startMs;
  }

  now = (): number => this.#now;

  setTimeout = (fn: () => void, ms: number): number => {
    const id = this.#nextId++;
    this.#timers.push({ id, due: this.#now + Math.max(0, ms), fn });
    return id;
  };

  clearTimeout = (handle: unknown): void => {
    this.#timers = this.#timers.filter((x) => x.id !== handle);
  };

  /** Timers set and not yet fired or cleared. */
  get pending(): number {
    return this.#timers.length;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way, in order (synchronously). */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      const next = this.#timers.filter((x) => x.due <= end).sort((a, b) => a.due - b.due || a.id - b.id)[0];
      if (!next) break;
      this.#timers = this.#timers.filter((x) => x !== next);
      this.#now = next.due;
      next.fn();
    }
    this.#now = end;
  }
}
