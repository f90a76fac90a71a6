/**
 * A seeded PRNG (mulberry32) for the bounded-time fuzz tests: a failure
 * prints its seed, and `FUZZ_SEED=<n>` replays it. `FUZZ_MS` sets the time
 * budget of each fuzz loop (default 1500 ms).
 */
export const FUZZ_MS = Number(process.env.FUZZ_MS ?? 1500);
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? (Date.now() & 0x7fffffff));

export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let x = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

/**
 * Runs `body(rng, i)` until the time budget is spent and at least `minRuns` inputs ran (a shared,
 * loaded CI machine can be slow: coverage, not speed, is what a fuzz loop is for), but never past
 * ten budgets; returns the iteration count.
 */
export function forBudget(seed: number, body: (rng: Rng, i: number) => void, ms = FUZZ_MS, minRuns = 101): number {
  const rng = new Rng(seed);
  const start = performance.now();
  const end = start + ms;
  const hardEnd = start + 10 * ms;
  let i = 0;
  for (;;) {
    const now = performance.now();
    if (now >= hardEnd || (now >= end && i >= minRuns)) break;
    body(rng, i++);
  }
  return i;
}
