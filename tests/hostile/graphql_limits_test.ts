/**
 * Hostile documents against a real gateway, sent with an app's token (issue 10, item 2): each is
 * refused with a 400 and `extensions.code` before it is validated or run, with either media type,
 * and `/health` and a cheap query still answer right after.
 *
 * @module
 */

import assert from "node:assert/strict";
import { startGatewayFixture } from "../graphql/fixture.ts";

/** 27 fragments, each spreading the next twice: 2^26 spreads if expanded. */
function fragmentDoubling(count = 27): string {
  const fragments = Array.from(
    { length: count },
    (_, i) =>
      i === count - 1
        ? `fragment F${i} on Query { meters { id } }`
        : `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`,
  );
  return `query { ...F0 } ${fragments.join(" ")}`;
}

/** Selections nested `levels` deep: `{a{a{…a}…}}`. */
function deeplyNested(levels: number): string {
  return "{" + "a{".repeat(levels) + "a" + "}".repeat(levels) + "}";
}

const MEDIA_TYPES = ["application/json", "application/graphql-response+json"];

Deno.test("hostile documents are refused with a 4xx and a code, quickly", async (t) => {
  const fixture = await startGatewayFixture({ simulated: 1 });
  const app = fixture.appToken({ scope: "FB=1_3_4_5_13_14_39;IntervalDuration=900", meterIds: [] });
  const send = async (query: string, accept: string) => {
    const response = await fetch(`${fixture.url}/graphql`, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: accept,
        Authorization: `Bearer ${app.token}`,
      },
      body: JSON.stringify({ query }),
    });
    const body = await response.json();
    return { status: response.status, body };
  };
  const stillAnswers = async () => {
    const health = await fetch(`${fixture.url}/health`);
    assert.equal((await health.json()).ok, true);
    const reply = await fixture.graphql("{ gateway { version } }");
    assert.equal(reply.data?.gateway.version, "0.0.0-test");
  };
  try {
    for (const accept of MEDIA_TYPES) {
      await t.step(`27 doubling fragments (${accept})`, async () => {
        const document = fragmentDoubling();
        assert.ok(document.length < 1500, `${document.length} bytes`);
        const startedMs = performance.now();
        const { status, body } = await send(document, accept);
        const tookMs = performance.now() - startedMs;
        assert.equal(status, 400);
        assert.equal(body.data, undefined);
        assert.equal(body.errors[0].extensions.code, "QUERY_TOO_COMPLEX");
        assert.match(body.errors[0].message, /estimated cost is \d+; at most 2000/);
        console.log(`  doubling fragments refused in ${tookMs.toFixed(1)} ms (HTTP round trip)`);
        await stillAnswers();
      });

      await t.step(`10 000 nested selections (${accept})`, async () => {
        const { status, body } = await send(deeplyNested(10_000), accept);
        assert.equal(status, 400);
        assert.equal(body.errors[0].extensions.code, "QUERY_TOO_LARGE");
        assert.match(body.errors[0].message, /30003 bytes; at most 16384/);
        await stillAnswers();
      });

      await t.step(`5 000 nested selections, within the size limit (${accept})`, async () => {
        const { status, body } = await send(deeplyNested(5_000), accept);
        assert.equal(status, 400);
        assert.equal(body.errors[0].extensions.code, "QUERY_TOO_LARGE");
        assert.match(body.errors[0].message, /more than 2000 tokens/);
        await stillAnswers();
      });

      await t.step(`600 nested selections, within size and tokens (${accept})`, async () => {
        const { status, body } = await send(deeplyNested(600), accept);
        assert.equal(status, 400);
        assert.equal(body.errors[0].extensions.code, "QUERY_TOO_COMPLEX");
        assert.match(body.errors[0].message, /nests 601 levels deep; at most 15/);
        await stillAnswers();
      });

      await t.step(`a document over the size limit (${accept})`, async () => {
        const padding = " ".repeat(20 * 1024);
        const { status, body } = await send(`{${padding}gateway { version } }`, accept);
        assert.equal(status, 400);
        assert.equal(body.errors[0].extensions.code, "QUERY_TOO_LARGE");
        assert.match(body.errors[0].message, /at most 16384 are allowed/);
      });

      await t.step(`a syntax error and an invalid field (${accept})`, async () => {
        const syntax = await send("{ gateway { ", accept);
        assert.equal(syntax.status, 400);
        assert.equal(syntax.body.errors[0].extensions.code, "GRAPHQL_PARSE_FAILED");
        const invalid = await send("{ nonsense }", accept);
        assert.equal(invalid.status, 400);
        assert.equal(invalid.body.errors[0].extensions.code, "GRAPHQL_VALIDATION_FAILED");
      });
    }

    await t.step("a fragment cycle is reported by validation, not looped on", async () => {
      const { status, body } = await send(
        "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A gateway { version } }",
        "application/graphql-response+json",
      );
      assert.equal(status, 400);
      assert.match(body.errors[0].message, /Cannot spread fragment "A" within itself/);
    });
  } finally {
    await fixture.close();
  }
});
