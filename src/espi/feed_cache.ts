/**
 * The Batch feeds built lately, by entity tag. A feed's tag (`feed_etag.ts`) covers everything its
 * data comes from (the caller's scope, the query, the stored facts of its meters), so a feed built
 * under a tag can answer the next request with that tag: apps poll the same feed, and building one
 * reads every interval of 48 hours. What a hit repeats besides the data is the time stamps of
 * when it was built, the difference the weak tag allows.
 *
 * A feed sent gzipped keeps its gzipped bytes next to it, so polling apps that accept gzip (all of
 * them) cost neither a build nor a compression: the 48-hour feed's 81 KB took ~0.6 ms to gzip on
 * every request.
 *
 * Bounded by entries and by characters (gzipped bytes counted too), oldest dropped first; a tag's
 * entry goes when its data changes only by ageing out (the new data has a new tag).
 *
 * @module
 */

/** Most feeds kept. */
export const FEED_CACHE_ENTRIES = 16;
/** Most characters kept over all feeds (a 48-hour feed of 4 meters at 5 minutes is ~1.3 M). */
export const FEED_CACHE_CHARS = 4_000_000;

interface Kept {
  xml: string;
  gzipped: Uint8Array<ArrayBuffer> | null;
}

const size = (kept: Kept) => kept.xml.length + (kept.gzipped?.length ?? 0);

/** Feeds by tag, oldest use first. */
export class FeedCache {
  readonly #feeds = new Map<string, Kept>();
  #chars = 0;

  /** The feed built under `etag`, if still kept (it becomes the newest use). */
  get(etag: string): string | undefined {
    const kept = this.#feeds.get(etag);
    if (kept !== undefined) {
      this.#feeds.delete(etag);
      this.#feeds.set(etag, kept);
    }
    return kept?.xml;
  }

  /** The gzipped bytes of the feed kept under `etag`, once `setGzipped` stored them. */
  gzipped(etag: string): Uint8Array<ArrayBuffer> | undefined {
    return this.#feeds.get(etag)?.gzipped ?? undefined;
  }

  /** Keeps `feed` under `etag` unless it alone is over the bound; drops the oldest beyond it. */
  set(etag: string, feed: string): void {
    if (feed.length > FEED_CACHE_CHARS) return;
    this.#keep(etag, { xml: feed, gzipped: null });
  }

  /** Keeps the gzipped bytes of the feed kept under `etag` (nothing when it is not kept). */
  setGzipped(etag: string, gzipped: Uint8Array<ArrayBuffer>): void {
    const kept = this.#feeds.get(etag);
    if (kept !== undefined) this.#keep(etag, { xml: kept.xml, gzipped });
  }

  #keep(etag: string, kept: Kept): void {
    const previous = this.#feeds.get(etag);
    if (previous !== undefined) {
      this.#feeds.delete(etag);
      this.#chars -= size(previous);
    }
    this.#feeds.set(etag, kept);
    this.#chars += size(kept);
    for (const [oldest, dropped] of this.#feeds) {
      if (this.#feeds.size <= FEED_CACHE_ENTRIES && this.#chars <= FEED_CACHE_CHARS) break;
      this.#feeds.delete(oldest);
      this.#chars -= size(dropped);
    }
  }
}
