/**
 * A request's body as the handler reads it, framed by `Content-Length` or chunked coding (RFC 9112
 * §6–§7). Nothing is read from the socket until the handler asks (a request the guards refuse
 * costs no body bytes); a body already in the buffer with its head is handed over as bytes.
 *
 * @module
 */

import { HttpError } from "../errors.ts";
import type { ByteReader } from "./byte_reader.ts";

/** A chunk-size line or a trailer line longer than this is refused. */
const MAX_LINE_BYTES = 4096;
/** All trailer lines together. */
const MAX_TRAILER_BYTES = 16 * 1024;

export interface RequestBody {
  /** What `new Request` gets as `body`. */
  body: Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array<ArrayBuffer>> | null;
  /** True once the whole body has been read from the connection (the next request can follow). */
  finished(): boolean;
}

export interface BodyOptions {
  /** Runs before the first byte of the body is waited for (`100 Continue`). */
  beforeFirstRead: () => Promise<void>;
}

function malformed(description: string): HttpError {
  return new HttpError(400, "invalid_request", description);
}

const NONE: RequestBody = { body: null, finished: () => true };

/** The body of `bytes` bytes. */
export function lengthBody(reader: ByteReader, bytes: number, options: BodyOptions): RequestBody {
  if (reader.available >= bytes) {
    const body = reader.take(bytes);
    return { body, finished: () => true };
  }
  let left = bytes;
  let started = false;
  const body = new ReadableStream<Uint8Array<ArrayBuffer>>({
    async pull(controller) {
      if (!started) {
        started = true;
        await options.beforeFirstRead();
      }
      if (reader.available === 0 && !await reader.fill()) {
        controller.error(malformed("the body ended before its Content-Length"));
        return;
      }
      const piece = reader.take(Math.min(left, reader.available));
      left -= piece.length;
      controller.enqueue(piece);
      if (left === 0) controller.close();
    },
  }, { highWaterMark: 0 });
  return { body, finished: () => left === 0 };
}

/** A chunked body (RFC 9112 §7.1): chunk extensions and trailers are read and dropped. */
export function chunkedBody(reader: ByteReader, options: BodyOptions): RequestBody {
  /** Bytes left in the current chunk; -1 between chunks. */
  let chunkLeft = -1;
  let done = false;
  let started = false;

  /** The next line without its line end, consumed; null when the connection ended. */
  const readLine = async (): Promise<string | null> => {
    let end = reader.findLineEnd(0);
    while (end === -1) {
      if (reader.available > MAX_LINE_BYTES) throw malformed("a chunk line is too long");
      if (!await reader.fill()) return null;
      end = reader.findLineEnd(0);
    }
    if (end > MAX_LINE_BYTES) throw malformed("a chunk line is too long");
    const bytes = reader.take(end);
    let text = "";
    for (let i = 0; i < bytes.length - 1; i++) text += String.fromCharCode(bytes[i]);
    return text.endsWith("\r") ? text.slice(0, -1) : text;
  };

  const body = new ReadableStream<Uint8Array<ArrayBuffer>>({
    async pull(controller) {
      try {
        if (!started) {
          started = true;
          await options.beforeFirstRead();
        }
        if (chunkLeft === -1) {
          const line = await readLine();
          if (line === null) throw malformed("the chunked body ended early");
          const size = /^([0-9A-Fa-f]{1,12})(?:[ \t]*;.*)?$/.exec(line);
          if (size === null) throw malformed("a malformed chunk size");
          chunkLeft = parseInt(size[1], 16);
          if (chunkLeft === 0) {
            await readTrailers(readLine);
            done = true;
            controller.close();
            return;
          }
        }
        if (reader.available === 0 && !await reader.fill()) {
          throw malformed("the chunked body ended early");
        }
        const piece = reader.take(Math.min(chunkLeft, reader.available));
        chunkLeft -= piece.length;
        if (chunkLeft === 0) {
          const end = await readLine();
          if (end !== "") throw malformed("a chunk does not end with CRLF");
          chunkLeft = -1;
        }
        controller.enqueue(piece);
      } catch (error) {
        controller.error(error);
      }
    },
  }, { highWaterMark: 0 });
  return { body, finished: () => done };
}

async function readTrailers(readLine: () => Promise<string | null>): Promise<void> {
  let total = 0;
  while (true) {
    const line = await readLine();
    if (line === null) throw malformed("the chunked body ended early");
    if (line === "") return;
    total += line.length;
    if (total > MAX_TRAILER_BYTES) throw malformed("the trailer fields are too large");
  }
}

/** No body. */
export function noBody(): RequestBody {
  return NONE;
}
