/**
 * The feed shows only what a grant's function blocks include (the table in
 * `src/auth/granted_data.ts`): no cost without FB 12, no reverse-flow readings without FB 7/8, no
 * UsageSummary without FB 15, no demand without FB 6, no registers without FB 9, no interval
 * energy without FB 4/5 — and every narrowed document still validates against ESPI 4.0.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Caller } from "../../src/auth/caller.ts";
import { dispatchEspi } from "../../src/espi/routes.ts";
import { accessCaller, espiFixture, get, scope, xmllint } from "./fixtures.ts";

/** MeterReading ids that have IntervalBlocks in a feed. */
function meterReadings(xml: string): string[] {
  const ids = [...xml.matchAll(/\/MeterReading\/(\d)\/IntervalBlock\//g)].map((match) => match[1]);
  return [...new Set(ids)].sort();
}

Deno.test("the feed leaves out what the grant's function blocks do not include", async () => {
  const fixture = await espiFixture();
  const files: string[] = [];
  try {
    const up = fixture.solarUsagePointId;
    const services = fixture.services();
    const read = async (path: string, caller: Caller) => {
      const response = dispatchEspi(get(path), services, caller);
      const body = await response.text();
      if (response.status === 200) {
        const file = `${fixture.dir}/granted-${files.length}.xml`;
        await Deno.writeTextFile(file, body);
        files.push(file);
      }
      return { status: response.status, body };
    };
    const grant = (...functionBlocks: number[]) =>
      accessCaller("sub-a", [up], scope({ functionBlocks }));
    const feed = "Batch/Subscription/sub-a";
    const tree = `Subscription/sub-a/UsagePoint/${up}`;

    // Interval energy only (the blocks of the common Green Button scope).
    const intervalsOnly = grant(1, 3, 4, 5, 13, 14, 39);
    const plain = await read(feed, intervalsOnly);
    assert.equal(plain.status, 200);
    assert.deepEqual(meterReadings(plain.body), ["1"]);
    assert.doesNotMatch(plain.body, /<espi:cost>|<espi:currency>|billToDate/);
    assert.doesNotMatch(plain.body, /UsageSummary/);
    assert.match(plain.body, /ReadingType\/1-300-0"/);
    assert.equal((await read(`${tree}/MeterReading/3`, intervalsOnly)).status, 404);
    assert.equal((await read(`${tree}/MeterReading/2/IntervalBlock`, intervalsOnly)).status, 404);
    assert.equal((await read(`${tree}/UsageSummary/1`, intervalsOnly)).status, 404);
    const summaries = await read(`${tree}/UsageSummary`, intervalsOnly);
    assert.equal(summaries.status, 200);
    assert.doesNotMatch(summaries.body, /<entry>/);

    // With FB 12 the same intervals carry their cost, and the ReadingType its currency.
    const priced = await read(feed, grant(1, 3, 4, 5, 12, 13, 14, 39));
    assert.deepEqual(meterReadings(priced.body), ["1"]);
    assert.ok((priced.body.match(/<espi:cost>/g)?.length ?? 0) > 500);
    assert.match(priced.body, /<espi:currency>840<\/espi:currency>/);
    assert.match(priced.body, /ReadingType\/1-300-840"/);
    assert.doesNotMatch(priced.body, /UsageSummary/);

    // Demand and a usage summary, without interval energy or cost: average demand only, and a
    // summary with its peak demand but no bill.
    const summary = await read(feed, grant(1, 6, 15));
    assert.deepEqual(meterReadings(summary.body), ["3"]);
    assert.match(summary.body, /<espi:UsageSummary>.*<espi:peakDemand>/s);
    assert.doesNotMatch(summary.body, /<espi:cost>|<espi:currency>|billToDate/);

    // Energy sent to the grid as well (FB 8): the reverse-flow interval readings, no registers.
    assert.deepEqual(meterReadings((await read(feed, grant(1, 4, 8))).body), ["1", "2"]);
    assert.deepEqual(meterReadings((await read(feed, grant(1, 4, 8, 9))).body), [
      "1",
      "2",
      "4",
      "5",
    ]);

    // The owner's Download My Data has everything.
    const owner = await read("Batch/RetailCustomer/1/UsagePoint", {
      kind: "owner",
      sessionId: "s",
      householdId: null,
    });
    assert.deepEqual(meterReadings(owner.body), ["1", "2", "3", "4", "5"]);
    assert.match(owner.body, /<espi:cost>/);
    assert.match(owner.body, /<espi:billToDate>.*<espi:peakDemand>/s);

    const { code, output } = await xmllint(files);
    assert.equal(code, 0, output);
    assert.equal(output.match(/ validates$/gm)?.length, files.length, output);
  } finally {
    await fixture.cleanup();
  }
});
