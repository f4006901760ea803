/**
 * The Batch feeds built lately, by entity tag. A feed's tag (`feed_etag.ts`) covers everything its
 * data comes from (the caller's scope, the query, the stored facts of its meters), so a feed built
 * under a tag can answer the next request with that tag: apps poll the same feed, and building one
 * reads every interval of 48 hours. What a hit repeats besides the data is the time stamps of
 * when it was built, the difference the weak tag allows.
 *
 * Bounded by entries and by characters, oldest dropped first; a tag's entry goes when its data
 * changes only by ageing out (the new data has a new tag).
 *
 * @module
 */

/** Most feeds kept. */
export const FEED_CACHE_ENTRIES = 16;
/** Most characters kept over all feeds (a 48-hour feed of 4 meters at 5 minutes is ~1.3 M). */
export const FEED_CACHE_CHARS = 4_000_000;

/** Feeds by tag, oldest use first. */
export class FeedCache {
  readonly #feeds = new Map<string, string>();
  #chars = 0;

  /** The feed built under `etag`, if still kept (it becomes the newest use). */
  get(etag: string): string | undefined {
    const feed = this.#feeds.get(etag);
    if (feed !== undefined) {
      this.#feeds.delete(etag);
      this.#feeds.set(etag, feed);
    }
    return feed;
  }

  /** Keeps `feed` under `etag` unless it alone is over the bound; drops the oldest beyond it. */
  set(etag: string, feed: string): void {
    if (feed.length > FEED_CACHE_CHARS) return;
    const previous = this.#feeds.get(etag);
    if (previous !== undefined) {
      this.#feeds.delete(etag);
      this.#chars -= previous.length;
    }
    this.#feeds.set(etag, feed);
    this.#chars += feed.length;
    for (const [oldest, dropped] of this.#feeds) {
      if (this.#feeds.size <= FEED_CACHE_ENTRIES && this.#chars <= FEED_CACHE_CHARS) break;
      this.#feeds.delete(oldest);
      this.#chars -= dropped.length;
    }
  }
}
