/**
 * Request bodies the HTTP/1.1 server already holds whole: it arrived with its head, so the
 * server handed it to `Request` as bytes. The body guard then needs neither to read it through a
 * stream nor to copy the request to bound it.
 *
 * @module
 */

const inMemory = new WeakMap<Request, number>();

/** Notes that `request`'s body is `bytes` long and already in memory. */
export function markBodyInMemory(request: Request, bytes: number): void {
  inMemory.set(request, bytes);
}

/** The length of `request`'s body when it is already in memory, else undefined. */
export function bodyInMemoryBytes(request: Request): number | undefined {
  return inMemory.get(request);
}
