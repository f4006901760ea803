/**
 * Results of the `/graphql` fast path kept for callers asking the same again: many phones and
 * tabs of one household poll the same few queries, and a query's answer changes only when the
 * store does. An entry is the answer's JSON bytes (and their gzip, made when first asked for),
 * under the prepared document, the reader (`readerKey`: callers with one key read exactly the
 * same data) and the variables.
 *
 * An entry is used only while the store's version (`storeVersion`: any row changed by this
 * process, any commit by another) is the one it was computed at, and for at most `maxAgeMs`,
 * which bounds how old the clock-relative parts of an answer can be (the start of an app's
 * history window, the period of `usage`). Answers that read the running gateway's state (radios,
 * uptime, version) are never kept: `watchedContext` notices it. The read policy and admission run
 * for every request before the cache is asked, so a revoked token or a moved meter is refused at
 * once, and what a reader may see is part of the store's version.
 *
 * Bounded in entries and bytes, least recently used first out.
 *
 * @module
 */

import type { GraphqlContext } from "./context.ts";

export interface ResultCacheOptions {
  /** Most answers kept (default 256). */
  maxEntries?: number;
  /** Most bytes of answers kept, gzip included (default 4 MiB). */
  maxBytes?: number;
  /** How long an answer may be reused, at most (default 1 000 ms). */
  maxAgeMs?: number;
}

/** A kept answer. */
export interface CachedResult {
  body: Uint8Array<ArrayBuffer>;
  /** Its gzip, once a caller asked for it. */
  gzipped: Uint8Array<ArrayBuffer> | null;
}

interface Entry extends CachedResult {
  storeVersion: string;
  keptAtMs: number;
}

export interface ResultCacheStats {
  entries: number;
  bytes: number;
  hits: number;
}

/** Kept `/graphql` answers. */
export class ResultCache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #maxAgeMs: number;
  #bytes = 0;
  #hits = 0;

  constructor(options: ResultCacheOptions = {}) {
    this.#maxEntries = options.maxEntries ?? 256;
    this.#maxBytes = options.maxBytes ?? 4 * 1024 * 1024;
    this.#maxAgeMs = options.maxAgeMs ?? 1000;
  }

  /** The answer kept under `key`, if computed at `storeVersion` and young enough. */
  get(key: string, storeVersion: string): CachedResult | null {
    const entry = this.#entries.get(key);
    if (entry === undefined) return null;
    if (
      entry.storeVersion !== storeVersion || performance.now() - entry.keptAtMs > this.#maxAgeMs
    ) {
      this.#delete(key, entry);
      return null;
    }
    // Re-inserted: a Map iterates in insertion order, so the first key is the least recent.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    this.#hits++;
    return entry;
  }

  /** Keeps `body`, computed at `storeVersion`, under `key`. */
  set(key: string, storeVersion: string, body: Uint8Array<ArrayBuffer>): void {
    const old = this.#entries.get(key);
    if (old !== undefined) this.#delete(key, old);
    const entry: Entry = { body, gzipped: null, storeVersion, keptAtMs: performance.now() };
    if (this.#sizeOf(key, entry) > this.#maxBytes) return;
    this.#entries.set(key, entry);
    this.#bytes += this.#sizeOf(key, entry);
    this.#evict();
  }

  /** Adds the gzip of a kept answer (if it is still kept). */
  addGzipped(key: string, result: CachedResult, gzipped: Uint8Array<ArrayBuffer>): void {
    const entry = this.#entries.get(key);
    if (entry !== result || entry.gzipped !== null) return;
    entry.gzipped = gzipped;
    this.#bytes += gzipped.byteLength;
    this.#evict();
  }

  stats(): ResultCacheStats {
    return { entries: this.#entries.size, bytes: this.#bytes, hits: this.#hits };
  }

  #sizeOf(key: string, entry: Entry): number {
    // Two bytes a key character: V8 may keep it as UTF-16.
    return key.length * 2 + entry.body.byteLength + (entry.gzipped?.byteLength ?? 0);
  }

  #delete(key: string, entry: Entry): void {
    this.#entries.delete(key);
    this.#bytes -= this.#sizeOf(key, entry);
  }

  #evict(): void {
    for (const [oldest, entry] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries && this.#bytes <= this.#maxBytes) break;
      this.#delete(oldest, entry);
    }
  }
}

/**
 * `context` for one run, noting whether the run read the running gateway's state (anything under
 * `context.gateway`): such an answer is not the store's, so it is not kept.
 */
export function watchedContext(
  context: GraphqlContext,
): { context: GraphqlContext; readGatewayState: () => boolean } {
  let read = false;
  const watched: GraphqlContext = {
    access: context.access,
    services: context.services,
    get gateway() {
      read = true;
      return context.gateway;
    },
  };
  return { context: watched, readGatewayState: () => read };
}
