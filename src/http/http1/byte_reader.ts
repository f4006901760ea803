/**
 * The bytes a connection has sent and not yet been consumed, in one buffer that grows to a cap:
 * request heads are found in it, bodies are taken from it, and what a client pipelined after a
 * request stays in it for the next one.
 *
 * @module
 */

const FIRST_BYTES = 4 * 1024;

export class ByteReader {
  #conn: Deno.Conn;
  #buffer: Uint8Array<ArrayBuffer> = new Uint8Array(FIRST_BYTES);
  #start = 0;
  #end = 0;
  readonly #maxBytes: number;
  readonly #onBytes: () => void;

  /** `onBytes` is called whenever bytes arrive (the connection's idle clock). */
  constructor(conn: Deno.Conn, maxBytes: number, onBytes: () => void) {
    this.#conn = conn;
    this.#maxBytes = maxBytes;
    this.#onBytes = onBytes;
  }

  /** Bytes buffered and not consumed. */
  get available(): number {
    return this.#end - this.#start;
  }

  /** The buffered bytes (a view, valid until the next `fill` or `consume`). */
  view(): Uint8Array {
    return this.#buffer.subarray(this.#start, this.#end);
  }

  /**
   * Reads more from the connection; false at its end. Throws when the buffer is at its cap: the
   * caller bounds what it waits for (a head, a chunk line) by `maxBytes`.
   */
  async fill(): Promise<boolean> {
    if (this.#start === this.#end) {
      this.#start = 0;
      this.#end = 0;
      // A large head grew the buffer; an idle keep-alive connection goes back to the small one
      // (2 048 connections each holding a 41 KB buffer would be 84 MB).
      if (this.#buffer.length > FIRST_BYTES) this.#buffer = new Uint8Array(FIRST_BYTES);
    }
    if (this.#end === this.#buffer.length) {
      if (this.#start > 0) {
        this.#buffer.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      } else {
        if (this.#buffer.length >= this.#maxBytes) throw new RangeError("read buffer full");
        const grown = new Uint8Array(Math.min(this.#buffer.length * 4, this.#maxBytes));
        grown.set(this.#buffer.subarray(0, this.#end));
        this.#buffer = grown;
      }
    }
    const n = await this.#conn.read(this.#buffer.subarray(this.#end));
    if (n === null) return false;
    this.#end += n;
    this.#onBytes();
    return true;
  }

  /** Marks `bytes` consumed. */
  consume(bytes: number): void {
    this.#start += bytes;
  }

  /** A copy of the next `bytes` buffered bytes, consumed. */
  take(bytes: number): Uint8Array<ArrayBuffer> {
    const taken = this.#buffer.slice(this.#start, this.#start + bytes);
    this.#start += bytes;
    return taken;
  }

  /**
   * The offset (from the first unconsumed byte) just past the first empty line at or after
   * `from`: a head's end. Lines end in CRLF or a bare LF. -1 when none is buffered yet.
   */
  findBlankLine(from: number): number {
    const buffer = this.#buffer;
    const end = this.#end;
    for (let i = this.#start + from; i < end; i++) {
      if (buffer[i] !== 10) continue;
      if (buffer[i + 1] === 10 && i + 1 < end) return i + 2 - this.#start;
      if (buffer[i + 1] === 13 && buffer[i + 2] === 10 && i + 2 < end) return i + 3 - this.#start;
    }
    return -1;
  }

  /** The offset just past the next LF at or after `from`, or -1. */
  findLineEnd(from: number): number {
    const index = this.#buffer.subarray(this.#start + from, this.#end).indexOf(10);
    return index === -1 ? -1 : from + index + 1;
  }
}
