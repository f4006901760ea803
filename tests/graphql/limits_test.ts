/**
 * Limits through real HTTP: a deep query, an alias bomb, an expensive query, a huge range and too
 * many buckets are refused with typed, readable errors before anything runs.
 *
 * @module
 */

import assert from "node:assert/strict";
import { startGatewayFixture, waitForMeters } from "./fixture.ts";

Deno.test("deep, aliased, costly and oversized queries are refused clearly", async () => {
  const fixture = await startGatewayFixture({ simulated: 1 });
  try {
    const [meterId] = await waitForMeters(fixture, 1);

    const deep = "{ __schema { types { " + "fields { type { ".repeat(10) + "name" +
      " } }".repeat(10) + " } } }";
    const deepReply = await fixture.graphql(deep);
    assert.equal(deepReply.errors[0].extensions?.code, "QUERY_TOO_COMPLEX");
    assert.match(deepReply.errors[0].message, /nests 23 levels deep; at most 15/);

    const bomb = "{ " + Array.from({ length: 100 }, (_, i) => `m${i}: meters { id }`).join(" ") +
      " }";
    const bombReply = await fixture.graphql(bomb);
    assert.equal(bombReply.errors[0].extensions?.code, "QUERY_TOO_COMPLEX");
    assert.match(bombReply.errors[0].message, /more than 20 aliases/);

    const range = `from: "2024-01-01T00:00:00Z", to: "2024-01-02T00:00:00Z"`;
    const costly = "{ meters { " +
      Array.from({ length: 12 }, (_, i) => `s${i}: demandSeries(${range}) { avgW }`).join(" ") +
      " } }";
    const costlyReply = await fixture.graphql(costly);
    assert.match(costlyReply.errors[0].message, /estimated cost is \d+; at most 2000/);

    const series = (from: string, to: string, bucket: string) =>
      fixture.graphql(`{ meter(id: "${meterId}") {
        demandSeries(from: "${from}", to: "${to}", bucket: ${bucket}) { avgW } } }`);
    const huge = await series("2000-01-01T00:00:00Z", "2030-01-01T00:00:00Z", "ONE_HOUR");
    assert.equal(huge.errors[0].extensions?.code, "RANGE_TOO_LARGE");
    assert.match(huge.errors[0].message, /spans 262992 h; at most 168 h/);
    const tooMany = await series("2024-01-01T00:00:00Z", "2024-01-04T00:00:00Z", "ONE_MINUTE");
    assert.equal(tooMany.errors[0].extensions?.code, "TOO_MANY_BUCKETS");
    assert.match(tooMany.errors[0].message, /4320 buckets of 1 min.*at most 3000/);
    const backwards = await series("2024-01-02T00:00:00Z", "2024-01-01T00:00:00Z", "ONE_HOUR");
    assert.equal(backwards.errors[0].extensions?.code, "BAD_USER_INPUT");
    const noZone = await series("2024-01-01T00:00:00", "2024-01-02T00:00:00Z", "ONE_HOUR");
    assert.match(noZone.errors[0].message, /ISO 8601 instant with a zone/);
  } finally {
    await fixture.close();
  }
});
