/**
 * The Batch/Subscription feed over real HTTP on 127.0.0.1: gzipped when asked (and the same valid
 * XML once decoded), a weak ETag answered with 304 while nothing changed, a new one once a reading
 * is stored, and never a 304 or a shared tag across callers.
 *
 * @module
 */

import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { registerApp } from "../../src/auth/apps.ts";
import { createAuthorization } from "../../src/auth/authorizations.ts";
import { mintToken } from "../../src/auth/tokens.ts";
import { FEED_CACHE_CHARS, FEED_CACHE_ENTRIES, FeedCache } from "../../src/espi/feed_cache.ts";
import { createHttpApp } from "../../src/app/http_app.ts";
import type { DemandEvent } from "../../src/radio/events.ts";
import { IngestWriter } from "../../src/store/ingest.ts";
import { END_MS, espiFixture, HOUR_MS, PLAIN_METER, xmllint } from "./fixtures.ts";

/** A response as the wire carries it: node:http does not decode gzip, unlike fetch. */
interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  bytes: Uint8Array<ArrayBuffer>;
}

function rawGet(url: string, headers: Record<string, string>): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { headers }, (response) => {
      const chunks: Uint8Array[] = [];
      response.on("data", (chunk: Uint8Array) => chunks.push(chunk));
      response.on("end", () =>
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          bytes: new Uint8Array(Buffer.concat(chunks)),
        }));
      response.on("error", reject);
    });
    request.on("error", reject);
    request.end();
  });
}

async function gunzip(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return await new Response(
    ReadableStream.from([bytes]).pipeThrough(new DecompressionStream("gzip")),
  ).text();
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("Batch/Subscription over HTTP: gzip when asked, ETag and 304, per caller", async () => {
  const fixture = await espiFixture();
  const server = createHttpApp({
    hostname: "127.0.0.1",
    port: 0,
    services: { ...fixture.services(), publicBaseUrl: "", nowMs: () => END_MS },
    espi: true,
  });
  try {
    const grant = (name: string) => {
      const app = registerApp(fixture.db, {
        name,
        redirectUris: ["https://app.example/cb"],
        scopes: [
          "FB=1_3_4_5_12_13_14_39;IntervalDuration=900;BlockDuration=daily;HistoryLength=172800",
        ],
        nowMs: END_MS - HOUR_MS,
      });
      // Both apps are granted the same meter: only the grant tells their feeds apart.
      const authorization = createAuthorization(fixture.db, {
        clientId: app.app.clientId,
        scope: app.app.scopes[0],
        usagePointIds: [fixture.plainUsagePointId],
        householdId: 1,
        nowMs: END_MS - HOUR_MS,
      });
      const token = mintToken(fixture.db, {
        kind: "access",
        clientId: app.app.clientId,
        authorizationId: authorization.authorizationId,
        expiresInS: 3600,
        nowMs: END_MS - 60_000,
      }).token;
      return {
        url: `${server.url}/espi/1_1/resource/Batch/Subscription/${authorization.subscriptionId}`,
        auth: { Authorization: `Bearer ${token}` },
      };
    };
    const a = grant("App A");
    const b = grant("App B");

    const plain = await rawGet(a.url, a.auth);
    assert.equal(plain.status, 200, text(plain.bytes));
    assert.equal(plain.headers["content-encoding"], undefined);
    const xml = text(plain.bytes);
    const etag = String(plain.headers["etag"]);
    assert.match(etag, /^W\/"[\x21\x23-\x7e]+"$/);
    assert.match(String(plain.headers["vary"]), /Accept-Encoding/i);
    assert.match(String(plain.headers["vary"]), /Authorization/i);

    const gzipped = await rawGet(a.url, { ...a.auth, "Accept-Encoding": "gzip" });
    assert.equal(gzipped.status, 200);
    assert.equal(gzipped.headers["content-encoding"], "gzip");
    assert.ok(gzipped.bytes.byteLength * 4 < plain.bytes.byteLength, "gzip shrinks the feed");
    assert.equal(await gunzip(gzipped.bytes), xml);
    // The same data in either coding: one weak tag.
    assert.equal(gzipped.headers["etag"], etag);
    // Asked again under the same tag: the kept gzipped bytes, the same headers.
    const again = await rawGet(a.url, { ...a.auth, "Accept-Encoding": "gzip" });
    assert.deepEqual(again.bytes, gzipped.bytes);
    assert.equal(again.headers["content-encoding"], "gzip");
    assert.equal(again.headers["vary"], gzipped.headers["vary"]);
    assert.equal(again.headers["etag"], etag);
    // Another caller's feed under its own tag is never the kept bytes of this one.
    const othersFeed = await rawGet(b.url, { ...b.auth, "Accept-Encoding": "gzip" });
    assert.notEqual(othersFeed.headers["etag"], etag);
    assert.notEqual(await gunzip(othersFeed.bytes), xml);
    const file = `${fixture.dir}/feed.xml`;
    await Deno.writeTextFile(file, xml);
    const lint = await xmllint([file]);
    assert.equal(lint.code, 0, lint.output);

    // Nothing changed: 304 with the tag and no body, for every matching form of If-None-Match.
    const strongForm = etag.slice(2);
    for (const ifNoneMatch of [etag, strongForm, `"other", ${etag}`, "*", ` , ${etag} ,`]) {
      const again = await rawGet(a.url, {
        ...a.auth,
        "Accept-Encoding": "gzip",
        "If-None-Match": ifNoneMatch,
      });
      assert.equal(again.status, 304, ifNoneMatch);
      assert.equal(again.bytes.byteLength, 0);
      assert.equal(again.headers["etag"], etag);
      assert.match(String(again.headers["vary"]), /Authorization/i);
    }
    for (const ifNoneMatch of ['"other"', `${etag.slice(0, -2)}x"`, "not a tag", `${etag} junk`]) {
      const full = await rawGet(a.url, { ...a.auth, "If-None-Match": ifNoneMatch });
      assert.equal(full.status, 200, ifNoneMatch);
      assert.equal(text(full.bytes), xml);
    }

    // Another app over the same meter: its own tag; A's tag gets it the full feed, not a 304.
    const other = await rawGet(b.url, { ...b.auth, "If-None-Match": etag });
    assert.equal(other.status, 200);
    assert.notEqual(other.headers["etag"], etag);
    // Nor A's kept feed: same meter and data, but the links name B's own subscription.
    const subscriptionOf = (url: string) => url.slice(url.lastIndexOf("/") + 1);
    assert.ok(text(other.bytes).includes(`Subscription/${subscriptionOf(b.url)}/`));
    assert.ok(!text(other.bytes).includes(subscriptionOf(a.url)));
    // A's tag (or `*`) does not turn a refusal into a 304 that would confirm the feed exists.
    for (const headers of [{}, b.auth, { Authorization: "Bearer not-a-token" }]) {
      const refused = await rawGet(a.url, { ...headers, "If-None-Match": "*" });
      assert.ok(refused.status === 401 || refused.status === 403, String(refused.status));
      assert.equal(refused.headers["etag"], undefined);
      const withTag = await rawGet(a.url, { ...headers, "If-None-Match": etag });
      assert.ok(withTag.status === 401 || withTag.status === 403, String(withTag.status));
    }

    // A new reading of the granted meter is stored (the clock stands still): a new tag.
    const writer = new IngestWriter(fixture.db);
    writer.add(
      "/dev/ttyACM0",
      {
        fragment: "InstantaneousDemand",
        device: "0xd8d5b9000000abcd",
        meter: PLAIN_METER,
        timeMs: END_MS + 8000,
        kind: "demand",
        demandW: 1234,
        digitsRight: 3,
      } satisfies DemandEvent,
      END_MS + 8000,
    );
    writer.close();
    const changed = await rawGet(a.url, { ...a.auth, "If-None-Match": etag });
    assert.equal(changed.status, 200);
    const newEtag = String(changed.headers["etag"]);
    assert.notEqual(newEtag, etag);
    // Built again, not the feed kept under the old tag: the usage point was updated since.
    assert.notEqual(text(changed.bytes), xml);
    assert.match(
      text(changed.bytes),
      new RegExp(`<updated>${new Date(END_MS + 8000).toISOString().slice(0, 19)}`),
    );
    const unchanged = await rawGet(a.url, { ...a.auth, "If-None-Match": newEtag });
    assert.equal(unchanged.status, 304);
  } finally {
    await server.shutdown();
    await fixture.cleanup();
  }
});

Deno.test("the feed cache keeps the newest uses within its entry and character bounds", () => {
  const cache = new FeedCache();
  for (let i = 0; i < FEED_CACHE_ENTRIES; i++) cache.set(`tag-${i}`, `feed ${i}`);
  // A use makes tag-0 the newest: tag-1 is the one dropped for the next feed.
  assert.equal(cache.get("tag-0"), "feed 0");
  cache.set("tag-new", "feed new");
  assert.equal(cache.get("tag-1"), undefined);
  assert.equal(cache.get("tag-0"), "feed 0");
  assert.equal(cache.get("tag-new"), "feed new");

  const half = "x".repeat(FEED_CACHE_CHARS / 2);
  cache.set("big-1", half);
  cache.set("big-2", half);
  // Both halves fill the bound: everything older went.
  assert.equal(cache.get("tag-0"), undefined);
  assert.equal(cache.get("big-1"), half);
  cache.set("big-3", half);
  assert.equal(cache.get("big-2"), undefined);
  assert.equal(cache.get("big-1"), half);
  // A feed over the bound alone is not kept, and keeps the others.
  cache.set("huge", "x".repeat(FEED_CACHE_CHARS + 1));
  assert.equal(cache.get("huge"), undefined);
  assert.equal(cache.get("big-3"), half);
});

Deno.test("the feed cache keeps a feed's gzipped bytes with it, counted in its bound", () => {
  const cache = new FeedCache();
  const gzipped = new Uint8Array([31, 139, 8]);
  cache.setGzipped("absent", gzipped);
  assert.equal(cache.gzipped("absent"), undefined, "only for a feed that is kept");
  cache.set("tag", "feed");
  assert.equal(cache.gzipped("tag"), undefined);
  cache.setGzipped("tag", gzipped);
  assert.equal(cache.gzipped("tag"), gzipped);
  assert.equal(cache.get("tag"), "feed");
  // The gzipped bytes count: a feed and its bytes over the bound push older feeds out.
  const half = "x".repeat(FEED_CACHE_CHARS / 2);
  cache.set("big", half);
  cache.setGzipped("big", new Uint8Array(FEED_CACHE_CHARS / 2));
  assert.equal(cache.get("tag"), undefined);
  assert.equal(cache.gzipped("tag"), undefined);
  assert.equal(cache.get("big"), half);
});
