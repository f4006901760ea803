/**
 * Gives memory the native side freed back to the system. After a load (1 000 GraphQL clients),
 * the V8 heap shrinks on its own but ~40 MB of C heap that the closed connections used stayed
 * resident; `malloc_trim` (`ffi/malloc_trim.ts`) returns it. Whether
 * freed memory is waiting cannot be told from the resident size (freed but kept pages still count),
 * so it simply runs on a slow timer: a fraction of a millisecond when there is nothing to return.
 *
 * @module
 */

import { type MallocTrim, openMallocTrim } from "../../ffi/malloc_trim.ts";

export interface NativeMemoryTrimOptions {
  /** How often free C heap is given back. */
  everyMs: number;
  /** Defaults to glibc's (`openMallocTrim`); null turns trimming off. */
  trim?: MallocTrim | null;
}

/**
 * Every 10 s: 0.2–0.7 ms when there is nothing to give back, ~3 ms right after 1 000 clients
 * left (measured).
 */
export const DEFAULT_NATIVE_MEMORY_TRIM: NativeMemoryTrimOptions = { everyMs: 10_000 };

/** Starts the timer (it never keeps the process alive); a no-op where trimming is unavailable. */
export function startNativeMemoryTrim(options: NativeMemoryTrimOptions): { stop(): void } {
  const trim = options.trim === undefined ? openMallocTrim() : options.trim;
  if (trim === null) return { stop: () => {} };
  const timer = setInterval(trim, options.everyMs);
  Deno.unrefTimer(timer);
  return { stop: () => clearInterval(timer) };
}
