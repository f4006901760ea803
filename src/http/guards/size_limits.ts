/**
 * Size limits, the second guard: the URL, the request headers and the body. The head is checked
 * before routing (nothing is read yet); the body is read into memory up to the limit before the
 * handler runs, so a chunked body without `Content-Length` is bounded too. Form field limits live
 * with the form parser (`body.ts`).
 *
 * @module
 */

import { bodyInMemoryBytes } from "../body_in_memory.ts";
import { jsonError } from "../errors.ts";

export interface SizeLimits {
  maxUrlChars: number;
  maxHeaderBytes: number;
  maxBodyBytes: number;
}

export const DEFAULT_SIZE_LIMITS: SizeLimits = {
  maxUrlChars: 8 * 1024,
  maxHeaderBytes: 16 * 1024,
  maxBodyBytes: 64 * 1024,
};

/** Refuses an oversized URL or header block and a malformed or oversized Content-Length. */
export function checkRequestHead(request: Request, limits: SizeLimits): Response | null {
  if (request.url.length > limits.maxUrlChars) {
    return jsonError(414, "uri_too_long", "URL too long");
  }
  let headerBytes = 0;
  for (const [name, value] of request.headers) headerBytes += name.length + value.length + 4;
  if (headerBytes > limits.maxHeaderBytes) {
    return jsonError(431, "headers_too_large", "request headers too large");
  }
  const length = request.headers.get("content-length");
  if (length !== null) {
    if (!/^\d{1,15}$/.test(length)) {
      return jsonError(400, "invalid_request", "malformed Content-Length");
    }
    if (Number(length) > limits.maxBodyBytes) return bodyTooLarge(limits.maxBodyBytes);
  }
  return null;
}

/** Reads the body up to the limit and hands back a request whose body is already in memory. */
export async function readBoundedBody(
  request: Request,
  maxBodyBytes: number,
): Promise<Request | Response> {
  const inMemory = bodyInMemoryBytes(request);
  if (inMemory !== undefined) return inMemory > maxBodyBytes ? bodyTooLarge(maxBodyBytes) : request;
  if (request.body === null) return request;
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = request.body.getReader();
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBodyBytes) {
      await reader.cancel();
      return bodyTooLarge(maxBodyBytes);
    }
    chunks.push(value);
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new Request(request.url, { method: request.method, headers: request.headers, body });
}

function bodyTooLarge(maxBodyBytes: number): Response {
  return jsonError(413, "payload_too_large", `the body exceeds ${maxBodyBytes} bytes`);
}
