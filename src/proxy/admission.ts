/**
 * Admission to one upstream address's pool: at most `slots` requests in
 * flight (the pool's connection count, one request per connection), the rest
 * wait here in arrival order for at most `limits.upstreamQueueTimeoutMs`.
 *
 * undici's own Pool queue has no timeout and cannot drop a waiting request
 * without it first taking (and then destroying) a connection; this queue
 * can, so a request that waited too long is answered 503 and the pool never
 * sees it.
 */

/** A place in the queue: `cancel` leaves it (no-op once admitted). */
export interface Ticket {
  cancel(): void;
}

interface Waiter {
  admit: () => void;
  timer: NodeJS.Timeout;
}

export class Admission {
  readonly #slots: number;
  #inFlight = 0;
  /** Waiters in arrival order (a Set keeps insertion order and deletes in O(1)). */
  readonly #waiting = new Set<Waiter>();

  constructor(slots: number) {
    this.#slots = slots;
  }

  /** Requests holding a slot. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Requests waiting for one. */
  get waiting(): number {
    return this.#waiting.size;
  }

  /**
   * Calls `admit` as soon as a slot is free (synchronously when one is), or
   * `expired` after `timeoutMs` in the queue. The caller must `release()`
   * once per `admit`.
   */
  acquire(admit: () => void, expired: () => void, timeoutMs: number): Ticket {
    if (this.#inFlight < this.#slots && this.#waiting.size === 0) {
      this.#inFlight++;
      admit();
      return { cancel: () => {} };
    }
    const w: Waiter = {
      admit,
      timer: setTimeout(() => {
        this.#waiting.delete(w);
        expired();
      }, timeoutMs),
    };
    this.#waiting.add(w);
    return {
      cancel: () => {
        clearTimeout(w.timer);
        this.#waiting.delete(w);
      },
    };
  }

  /** Gives a slot back; the longest waiter gets it. */
  release(): void {
    this.#inFlight--;
    for (const w of this.#waiting) {
      if (this.#inFlight >= this.#slots) break;
      this.#waiting.delete(w);
      clearTimeout(w.timer);
      this.#inFlight++;
      w.admit();
    }
  }
}

/**
 * Requests in flight per subject DN (one worker), against
 * `limits.maxConcurrentPerIdentity`: nginx's `limit_conn` keyed by
 * `$ssl_client_s_dn`, where each HTTP/2 stream counts.
 */
export class IdentityLimiter {
  readonly #counts = new Map<string, number>();

  /** Takes one of `max` places for `dn`; false when all are taken. */
  tryAcquire(dn: string, max: number): boolean {
    const n = this.#counts.get(dn) ?? 0;
    if (n >= max) return false;
    this.#counts.set(dn, n + 1);
    return true;
  }

  release(dn: string): void {
    const n = (this.#counts.get(dn) ?? 1) - 1;
    if (n <= 0) this.#counts.delete(dn);
    else this.#counts.set(dn, n);
  }

  /** Requests in flight for `dn`. */
  count(dn: string): number {
    return this.#counts.get(dn) ?? 0;
  }
}
