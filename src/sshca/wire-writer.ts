/**
 * Builds SSH wire-format data (RFC 4251 section 5): uint32 and uint64 in
 * network byte order, length-prefixed strings, two's-complement mpints.
 * Every certificate, key and KRL byte ztproxy writes goes through here.
 */
export class WireWriter {
  #parts: Buffer[] = [];

  byte(value: number): this {
    this.#parts.push(Buffer.from([value & 0xff]));
    return this;
  }

  uint32(value: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(value >>> 0);
    this.#parts.push(b);
    return this;
  }

  uint64(value: bigint | number): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(value));
    this.#parts.push(b);
    return this;
  }

  /** A `string`: uint32 length, then the bytes (UTF-8 for text). */
  string(value: string | Uint8Array): this {
    const data = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
    this.uint32(data.length);
    this.#parts.push(data);
    return this;
  }

  /** An `mpint` from unsigned big-endian magnitude bytes (positive numbers only). */
  mpint(magnitude: Uint8Array): this {
    let i = 0;
    while (i < magnitude.length && magnitude[i] === 0) i++;
    let body = Buffer.from(magnitude.subarray(i));
    // A set high bit would read as negative: RFC 4251 wants a leading zero byte.
    if (body.length > 0 && (body[0]! & 0x80) !== 0) body = Buffer.concat([Buffer.from([0]), body]);
    return this.string(body);
  }

  /** Raw bytes, no length prefix. */
  raw(data: Uint8Array): this {
    this.#parts.push(Buffer.from(data));
    return this;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.#parts);
  }
}
