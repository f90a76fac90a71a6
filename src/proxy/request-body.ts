/**
 * Reads a client request body for the upstream, nginx-style
 * (`proxy_request_buffering` with `client_body_buffer_size` and
 * `client_body_timeout`):
 *
 * - a body of up to `bufferBytes` is read whole before any upstream
 *   connection is taken, so a client that trickles its body holds no pooled
 *   connection while it does;
 * - a larger body streams: the bytes read so far, then the rest, with
 *   backpressure from the upstream;
 * - a body that did not arrive whole (HTTP/2 stream reset, content-length
 *   mismatch, HTTP/1.1 connection closed mid-body) is never passed on as
 *   complete: the stream given to undici is destroyed with an error, so undici
 *   aborts the upstream request;
 * - a body from which nothing arrives for `timeoutMs` (while ztproxy is
 *   waiting for the client, not for the upstream) is given up the same way.
 */
import type { IncomingMessage } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';

export interface BodyEvents {
  /** The whole body (at most `bufferBytes`). */
  whole(body: Buffer): void;
  /** The body is larger: this stream yields all of it and ends only if it arrived whole. */
  streaming(body: Readable): void;
  /** The body did not arrive whole; the stream (if any) is already destroyed. */
  incomplete(): void;
  /** Nothing arrived for `timeoutMs`; the stream (if any) is already destroyed. */
  timedOut(): void;
}

export class RequestBody {
  readonly #req: IncomingMessage;
  readonly #bufferBytes: number;
  readonly #ev: BodyEvents;
  readonly #declared: number;
  #chunks: Buffer[] = [];
  #bytes = 0;
  #stream: PassThrough | null = null;
  #timer: NodeJS.Timeout | null;
  #over = false;

  constructor(req: IncomingMessage, bufferBytes: number, timeoutMs: number, ev: BodyEvents) {
    this.#req = req;
    this.#bufferBytes = bufferBytes;
    this.#ev = ev;
    const cl = req.headers['content-length'];
    this.#declared = typeof cl === 'string' && /^\d+$/.test(cl) ? Number(cl) : -1;
    this.#timer = setTimeout(this.#onTimeout, timeoutMs);
    req.on('data', this.#onData);
    req.on('end', this.#onEnd);
    req.on('close', this.#onClose);
    req.on('error', this.#onClose);
  }

  /** Stops reading (the exchange is over): no event fires after this. */
  stop(): void {
    if (this.#over) return;
    this.#done();
    if (this.#stream !== null && !this.#stream.writableEnded) this.#stream.destroy(new Error('request abandoned'));
  }

  #done(): void {
    this.#over = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const req = this.#req;
    req.off('data', this.#onData);
    req.off('end', this.#onEnd);
    req.off('close', this.#onClose);
    req.off('error', this.#onClose);
    req.on('error', () => {}); // a late error of an abandoned body must not be unhandled
    if (req.isPaused()) req.resume();
    this.#chunks = [];
  }

  #onData = (chunk: Buffer): void => {
    this.#timer?.refresh();
    this.#bytes += chunk.length;
    const s = this.#stream;
    if (s !== null) {
      if (!s.write(chunk)) {
        this.#req.pause();
        s.once('drain', () => this.#req.resume());
      }
      return;
    }
    this.#chunks.push(chunk);
    if (this.#bytes > this.#bufferBytes) {
      const pt = new PassThrough();
      for (const c of this.#chunks) pt.write(c);
      this.#chunks = [];
      this.#stream = pt;
      this.#ev.streaming(pt);
    }
  };

  /** Whole: the parser saw the end, nothing reset the stream, and the length is the declared one. */
  #whole(): boolean {
    const req = this.#req as IncomingMessage & { stream?: { rstCode?: number } };
    if (req.aborted) return false;
    const rst = req.stream?.rstCode;
    if (rst !== undefined && rst !== 0) return false;
    return this.#declared < 0 || this.#declared === this.#bytes;
  }

  #onEnd = (): void => {
    if (this.#over) return;
    const whole = this.#whole();
    const s = this.#stream;
    const body = Buffer.concat(this.#chunks, this.#bytes);
    this.#done();
    if (!whole) {
      s?.destroy(new Error('client request body incomplete'));
      this.#ev.incomplete();
    } else if (s !== null) s.end();
    else this.#ev.whole(body);
  };

  #onClose = (): void => {
    // HTTP/2's compat request emits 'close' before its 'end' when the stream was reset; the 'end' after a
    // normal END_STREAM comes first. Either way a body that has not ended by now did not arrive whole.
    if (this.#over || this.#req.readableEnded) return;
    this.#done();
    this.#stream?.destroy(new Error('client request body incomplete'));
    this.#ev.incomplete();
  };

  #onTimeout = (): void => {
    if (this.#over) return;
    if (this.#stream?.writableNeedDrain) {
      this.#timer?.refresh(); // waiting for the upstream to take the body, not for the client
      return;
    }
    this.#done();
    this.#stream?.destroy(new Error('client request body timed out'));
    this.#ev.timedOut();
  };
}
