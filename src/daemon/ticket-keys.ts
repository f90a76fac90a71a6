/**
 * Session ticket keys: fresh every hour, and on every reload (a new secure
 * context must not resume sessions of the old one, so no session outlives a
 * CRL or CA change). One rotation serves both a single process (it applies
 * the keys to its server) and a cluster primary (it sends them to every
 * worker, so a session resumes on any of them).
 */
import { randomBytes } from 'node:crypto';

/** Session ticket keys are replaced this often (and on every reload). */
export const TICKET_KEY_ROTATION_MS = 60 * 60 * 1000;
/** What node:tls wants: 16 bytes key name, 16 bytes HMAC key, 16 bytes AES key. */
const TICKET_KEYS_BYTES = 48;

export class TicketKeyRotation {
  #keys = randomBytes(TICKET_KEYS_BYTES);
  readonly #timer: NodeJS.Timeout;

  /** `onRotate` gets each hourly replacement; keys drawn by {@link next} go with the reload instead. */
  constructor(onRotate: (keys: Buffer) => void, everyMs = TICKET_KEY_ROTATION_MS) {
    this.#timer = setInterval(() => onRotate(this.next()), everyMs);
    this.#timer.unref();
  }

  /** The keys in force. */
  get current(): Buffer {
    return this.#keys;
  }

  /** Draws new keys and makes them current. */
  next(): Buffer {
    this.#keys = randomBytes(TICKET_KEYS_BYTES);
    return this.#keys;
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
