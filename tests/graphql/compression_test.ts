/**
 * `/graphql` answers gzip to a client that asks for it: a real HTTP client (`node:http`, which
 * does not decompress by itself) receives the compressed bytes, gunzips them and gets exactly the
 * uncompressed answer; small answers, clients refusing gzip and event streams stay uncompressed.
 *
 * @module
 */

import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { gunzipSync } from "node:zlib";
import { acceptsGzip, compressResponse } from "../../src/http/compress.ts";
import { startGatewayFixture } from "./fixture.ts";

interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Uint8Array;
}

/** One request with `node:http`: the body exactly as it came over the wire. */
function rawRequest(
  url: string,
  options: { method: string; headers: Record<string, string>; body?: string },
): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method, headers: options.headers }, (res) => {
      const chunks: Uint8Array[] = [];
      res.on("data", (chunk: Uint8Array) => chunks.push(chunk));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: new Uint8Array(Buffer.concat(chunks)),
        }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

Deno.test("/graphql answers gzip to clients that accept it", async () => {
  const fixture = await startGatewayFixture({ simulated: 1 });
  try {
    // Large and stable: the schema's types with their descriptions (owner-only introspection).
    const query = "{ __schema { types { name description fields { name description } } } }";
    const post = (acceptEncoding: string | null) =>
      rawRequest(`${fixture.url}/graphql`, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Cookie: fixture.ownerCookie,
          ...(acceptEncoding === null ? {} : { "Accept-Encoding": acceptEncoding }),
        },
        body: JSON.stringify({ query }),
      });

    const plain = await post(null);
    assert.equal(plain.status, 200);
    assert.equal(plain.headers["content-encoding"], undefined);
    assert.match(String(plain.headers["vary"]), /Accept-Encoding/);
    const plainText = new TextDecoder().decode(plain.body);
    assert.ok(JSON.parse(plainText).data.__schema.types.length > 20);

    const zipped = await post("gzip, deflate, br");
    assert.equal(zipped.status, 200);
    assert.equal(zipped.headers["content-encoding"], "gzip");
    assert.match(String(zipped.headers["vary"]), /Accept-Encoding/);
    assert.equal(new TextDecoder().decode(gunzipSync(zipped.body)), plainText);
    assert.ok(zipped.body.byteLength * 3 < plain.body.byteLength);
    console.log(
      `  schema description: ${plain.body.byteLength} B plain, ${zipped.body.byteLength} B gzipped`,
    );

    const refused = await post("gzip;q=0, identity");
    assert.equal(refused.headers["content-encoding"], undefined);

    const small = await rawRequest(`${fixture.url}/graphql`, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Cookie: fixture.ownerCookie,
        "Accept-Encoding": "gzip",
      },
      body: JSON.stringify({ query: "{ gateway { version } }" }),
    });
    assert.equal(small.headers["content-encoding"], undefined);
    assert.equal(
      JSON.parse(new TextDecoder().decode(small.body)).data.gateway.version,
      "0.0.0-test",
    );
  } finally {
    await fixture.close();
  }
});

Deno.test("an event stream is never compressed: events must not wait in a compressor", async () => {
  const request = new Request("http://127.0.0.1/graphql", {
    headers: { "Accept-Encoding": "gzip" },
  });
  const events = new Response(`event: next\ndata: ${"x".repeat(4096)}\n\n`, {
    headers: { "Content-Type": "text/event-stream; charset=utf-8" },
  });
  const answered = await compressResponse(request, events);
  assert.equal(answered, events);
  assert.equal(answered.headers.get("content-encoding"), null);
});

Deno.test("Accept-Encoding is read with its weights", () => {
  assert.equal(acceptsGzip(null), false);
  assert.equal(acceptsGzip("gzip"), true);
  assert.equal(acceptsGzip("br, GZIP;q=0.5"), true);
  assert.equal(acceptsGzip("gzip;q=0"), false);
  assert.equal(acceptsGzip("identity"), false);
  assert.equal(acceptsGzip("*"), true);
  assert.equal(acceptsGzip("*;q=0, gzip"), true);
  assert.equal(acceptsGzip("gzip;q=0, *"), false);
});
