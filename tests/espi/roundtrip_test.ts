/**
 * Values round-trip: our own Batch/Subscription feed, parsed back with fast-xml-parser, carries
 * exactly the stored intervals (times, Wh, quality) with the cost of the price in effect, at the
 * stored resolution and aggregated to a coarser granted one.
 *
 * @module
 */

import assert from "node:assert/strict";
import { XMLParser } from "fast-xml-parser";
import { dispatchEspi } from "../../src/espi/routes.ts";
import { createHousehold } from "../../src/sim/household.ts";
import { intervalSeries } from "../../src/store/queries.ts";
import {
  accessCaller,
  END_MS,
  espiFixture,
  get,
  PLAIN_METER,
  scope,
  START_MS,
} from "./fixtures.ts";

interface ParsedReading {
  startS: number;
  durationS: number;
  value: number;
  cost: number | null;
  quality: number | null;
}

const parser = new XMLParser({
  parseTagValue: false,
  ignoreAttributes: false,
  isArray: (name) => ["entry", "link", "espi:IntervalReading"].includes(name),
});

type Node = Record<string, unknown>;

/** The IntervalReadings of MeterReading `meterReadingId`, in feed order. */
function readingsOf(xml: string, meterReadingId: string): ParsedReading[] {
  const feed = parser.parse(xml).feed as { entry: Node[] };
  const readings: ParsedReading[] = [];
  for (const entry of feed.entry) {
    const links = entry.link as Node[];
    const self = links.find((link) => link["@_rel"] === "self")?.["@_href"] as string;
    if (!self.includes(`/MeterReading/${meterReadingId}/IntervalBlock/`)) continue;
    const block = (entry.content as Node)["espi:IntervalBlock"] as Node;
    for (const reading of block["espi:IntervalReading"] as Node[]) {
      const period = reading["espi:timePeriod"] as Node;
      const quality = reading["espi:ReadingQuality"] as Node | undefined;
      readings.push({
        startS: Number(period["espi:start"]),
        durationS: Number(period["espi:duration"]),
        value: Number(reading["espi:value"]),
        cost: reading["espi:cost"] === undefined ? null : Number(reading["espi:cost"]),
        quality: quality === undefined ? null : Number(quality["espi:quality"]),
      });
    }
  }
  return readings;
}

Deno.test("interval values, costs and times round-trip at the stored 5-minute resolution", async () => {
  const fixture = await espiFixture();
  try {
    const caller = accessCaller("sub-a", [fixture.plainUsagePointId]);
    const response = dispatchEspi(get("Batch/Subscription/sub-a"), fixture.services(), caller);
    assert.equal(response.status, 200);
    const readings = readingsOf(await response.text(), "1");
    const stored = intervalSeries(fixture.db, {
      meterKey: PLAIN_METER,
      fromMs: START_MS,
      toMs: END_MS,
    }).filter((row) => row.startMs + row.durationS * 1000 <= END_MS);
    assert.equal(readings.length, stored.length);
    assert.ok(readings.length >= 570, `only ${readings.length} readings`);
    const household = createHousehold({ seed: 11, solar: false });
    let estimated = 0;
    readings.forEach((reading, i) => {
      const row = stored[i];
      assert.equal(reading.startS * 1000, row.startMs);
      assert.equal(reading.durationS, 300);
      assert.equal(reading.value, Math.round(row.deliveredWh));
      // The simulator's tiers change on the hour; prices are reported every 10 minutes.
      const price = household.priceAt(row.startMs).pricePerKWh;
      assert.equal(reading.cost, Math.round(row.deliveredWh * price * 100), `at ${row.startMs}`);
      assert.equal(reading.quality, row.quality === "valid" ? null : 9);
      if (row.quality === "estimated") estimated++;
    });
    assert.ok(estimated > 0, "the outage should leave estimated intervals");
  } finally {
    await fixture.cleanup();
  }
});

Deno.test("a 15-minute grant gets 5-minute intervals summed, never finer", async () => {
  const fixture = await espiFixture();
  try {
    const caller = accessCaller(
      "sub-a",
      [fixture.plainUsagePointId],
      scope({ intervalDurationS: 900 }),
    );
    const response = dispatchEspi(get("Batch/Subscription/sub-a"), fixture.services(), caller);
    const xml = await response.text();
    assert.match(xml, /<espi:intervalLength>900<\/espi:intervalLength>/);
    assert.doesNotMatch(xml, /<espi:intervalLength>300</);
    const readings = readingsOf(xml, "1");
    const stored = intervalSeries(fixture.db, {
      meterKey: PLAIN_METER,
      fromMs: START_MS,
      toMs: END_MS,
    });
    assert.equal(readings.length, 192);
    for (const reading of readings) {
      assert.equal(reading.durationS, 900);
      assert.equal(reading.startS % 900, 0);
      const parts = stored.filter((row) =>
        row.startMs >= reading.startS * 1000 && row.startMs < (reading.startS + 900) * 1000
      );
      assert.equal(parts.length, 3);
      const wh = parts.reduce((sum, row) => sum + row.deliveredWh, 0);
      assert.equal(reading.value, Math.round(wh));
    }
  } finally {
    await fixture.cleanup();
  }
});
