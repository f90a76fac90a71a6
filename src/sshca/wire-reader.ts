import { ZtpError, type ErrorCode } from '../util/index.js';

/**
 * Reads SSH wire-format data. Every read is bounds-checked: a truncated or
 * overlong field throws a ZtpError with the code and context given to the
 * constructor, so malformed keys never surface as RangeErrors.
 */
export class WireReader {
  #buf: Buffer;
  #pos = 0;
  readonly #code: ErrorCode;
  readonly #what: string;

  constructor(data: Uint8Array, what: string, code: ErrorCode = 'ZTP_SSHCA_INVALID_KEY') {
    this.#buf = Buffer.from(data);
    this.#what = what;
    this.#code = code;
  }

  #take(n: number): Buffer {
    if (n < 0 || this.#pos + n > this.#buf.length) throw this.fail('truncated data');
    const out = this.#buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }

  fail(reason: string): ZtpError {
    return new ZtpError(this.#code, `${this.#what}: ${reason}`);
  }

  uint32(): number {
    return this.#take(4).readUInt32BE(0);
  }

  uint64(): bigint {
    return this.#take(8).readBigUInt64BE(0);
  }

  string(): Buffer {
    return this.#take(this.uint32());
  }

  /** A string that must be printable ASCII (algorithm and curve names). */
  name(): string {
    const b = this.string();
    if (!/^[\x21-\x7e]*$/.test(b.toString('latin1'))) throw this.fail('bad name field');
    return b.toString('latin1');
  }

  /** A non-negative mpint, returned as its magnitude without leading zeros. */
  mpint(): Buffer {
    const b = this.string();
    if (b.length > 0 && (b[0]! & 0x80) !== 0) throw this.fail('negative mpint');
    if (b.length > 1 && b[0] === 0 && (b[1]! & 0x80) === 0) throw this.fail('non-minimal mpint');
    return b[0] === 0 ? b.subarray(1) : b;
  }

  raw(n: number): Buffer {
    return this.#take(n);
  }

  get remaining(): number {
    return this.#buf.length - this.#pos;
  }

  /** Throws unless every byte was consumed: trailing garbage is malformed input. */
  end(): void {
    if (this.remaining !== 0) throw this.fail(`${this.remaining} unexpected trailing bytes`);
  }
}
