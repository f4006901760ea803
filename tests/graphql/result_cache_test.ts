/**
 * The fast path's kept answers (`src/graphql/result_cache.ts`) on their own: bounded in entries
 * and bytes whatever is asked, used only at the store version and age they were kept at. (Through
 * HTTP, with readers and the store changing: `fast_path_test.ts`.)
 *
 * @module
 */

import assert from "node:assert/strict";
import { ResultCache } from "../../src/graphql/result_cache.ts";

const bytes = (n: number) => new Uint8Array(n);

Deno.test("kept answers are bounded in entries and bytes, least recently used out first", () => {
  const cache = new ResultCache({ maxEntries: 3, maxBytes: 10_000, maxAgeMs: 60_000 });
  for (let i = 0; i < 1000; i++) cache.set(`k${i}`, "v1", bytes(100));
  assert.equal(cache.stats().entries, 3);
  assert.ok(cache.get("k999", "v1") !== null);
  assert.equal(cache.get("k0", "v1"), null);

  // Asked recently, kept longest.
  cache.get("k997", "v1");
  cache.set("new", "v1", bytes(100));
  assert.ok(cache.get("k997", "v1") !== null);
  assert.equal(cache.get("k998", "v1"), null);

  const small = new ResultCache({ maxEntries: 100, maxBytes: 5_000, maxAgeMs: 60_000 });
  for (let i = 0; i < 100; i++) small.set(`k${i}`, "v1", bytes(1_000));
  assert.ok(small.stats().bytes <= 5_000, `${small.stats().bytes}`);
  assert.equal(small.stats().entries, 4);
  // An answer larger than the whole budget is not kept, and pushes nothing out.
  small.set("huge", "v1", bytes(6_000));
  assert.equal(small.get("huge", "v1"), null);
  assert.equal(small.stats().entries, 4);
  // A gzip counts too.
  const kept = small.get("k99", "v1")!;
  small.addGzipped("k99", kept, bytes(3_000));
  assert.ok(small.stats().bytes <= 5_000, `${small.stats().bytes}`);
});

Deno.test("a kept answer is used only at its store version and while young", async () => {
  const cache = new ResultCache({ maxAgeMs: 30 });
  cache.set("q", "7:1", bytes(10));
  assert.equal(cache.get("q", "8:1"), null, "another version");
  // A miss at another version drops it: the store moved on.
  assert.equal(cache.get("q", "7:1"), null);

  cache.set("q", "7:1", bytes(10));
  assert.ok(cache.get("q", "7:1") !== null);
  assert.equal(cache.stats().hits, 1);
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal(cache.get("q", "7:1"), null, "too old");
  assert.equal(cache.stats().entries, 0);
});
