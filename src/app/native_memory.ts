/**
 * Gives memory freed after a load back to the system, on a slow timer:
 *
 * - C heap: after 1 000 GraphQL clients ~40 MB of C heap that the closed connections used stayed
 *   resident; `malloc_trim` (`ffi/malloc_trim.ts`) returns it. Whether freed memory is waiting
 *   cannot be told from the resident size, so it runs every time: a fraction of a millisecond when
 *   there is nothing to return.
 * - V8 heap: a collection starts when the program allocates, and a quiet gateway hardly does, so
 *   what a load promoted (700 event streams: 20 MB of garbage) stayed until the next load. Once
 *   requests stop (none since the last tick) after any came since the last full collection, or
 *   when the heap holds well over what that collection kept (the gateway's own work, such as a
 *   backfill), one full collection runs (`gc`, exposed by `--expose-gc` in `src/cli/v8_flags.ts`,
 *   as V8's "last resort" collection, which also gives the freed pages back): tens of ms once, on
 *   a quiet process. Any requests, not only many: 10 s of small queries left
 *   3.7 MB more live and 9 MB more heap than before them a minute later, under the 8 MB excess
 *   alone.
 * - Caches: just before that collection the composition root drops what a quiet process does not
 *   need (SQLite's page cache, `PRAGMA shrink_memory`: ~2 MB; the next query reads the pages
 *   from the kernel's file cache).
 *
 * @module
 */

import { type MallocTrim, openMallocTrim } from "../../ffi/malloc_trim.ts";

export interface NativeMemoryTrimOptions {
  /** How often free memory is given back. */
  everyMs: number;
  /** Defaults to glibc's (`openMallocTrim`); null turns trimming off. */
  trim?: MallocTrim | null;
  /** Defaults to V8's `gc` when exposed; null turns idle collections off. */
  collect?: (() => void) | null;
  /** A count that stands still while the process is quiet (requests served); none: never. */
  activity?: () => number;
  /** Run just before each idle collection: drops caches a quiet process does not need. */
  releaseCaches?: () => void;
}

/** Without requests, a full collection runs when the heap holds this much more than the last one kept. */
const IDLE_GC_EXCESS_BYTES = 8 * 1024 * 1024;

/**
 * Every 10 s: 0.2–0.7 ms when there is nothing to give back, ~3 ms right after 1 000 clients
 * left (measured).
 */
export const DEFAULT_NATIVE_MEMORY_TRIM: NativeMemoryTrimOptions = { everyMs: 10_000 };

/** Starts the timer (it never keeps the process alive); a no-op where neither is available. */
export function startNativeMemoryTrim(options: NativeMemoryTrimOptions): { stop(): void } {
  const trim = options.trim === undefined ? openMallocTrim() : options.trim;
  const collect = options.collect === undefined ? exposedFullCollection() : options.collect;
  const activity = options.activity;
  if (trim === null && (collect === null || activity === undefined)) return { stop: () => {} };
  let keptBytes = Deno.memoryUsage().heapUsed;
  let lastActivity = activity?.();
  /** The activity count at the last full collection. */
  let collectedAt = lastActivity;
  const timer = setInterval(() => {
    if (collect !== null && activity !== undefined) {
      const usedBytes = Deno.memoryUsage().heapUsed;
      const now = activity();
      const quiet = now === lastActivity;
      if (quiet && (now !== collectedAt || usedBytes > keptBytes + IDLE_GC_EXCESS_BYTES)) {
        options.releaseCaches?.();
        collect();
        keptBytes = Deno.memoryUsage().heapUsed;
        collectedAt = now;
      } else {
        keptBytes = Math.min(keptBytes, usedBytes);
      }
      lastActivity = now;
    }
    trim?.();
  }, options.everyMs);
  Deno.unrefTimer(timer);
  return { stop: () => clearInterval(timer) };
}

/**
 * V8's "last resort" full collection (`CollectAllAvailableGarbage`: collections until nothing more
 * is freed, compaction, and the freed pages V8 pools for reuse given back) when `--expose-gc` made
 * `gc` global, else null. A plain `gc()` frees the objects but keeps their pages: the heap's size
 * fell to 6 MB and the process stayed at 87-99 MB; after this one, 45-47 MB (one run in four
 * kept them either way). In the gateway, 700 streams left 102-126 MB a minute later, now 97-99.
 */
export function exposedFullCollection(): (() => void) | null {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === "function"
    ? () => gc({ type: "major", execution: "sync", flavor: "last-resort" })
    : null;
}
