/**
 * Reads: store status, demand and interval series, latest readings, meter list.
 *
 * @module
 */

import assert from "node:assert/strict";
import { IngestWriter } from "../../src/store/ingest.ts";
import {
  demandSeries,
  intervalSeries,
  latestReadings,
  listMeters,
  storeStatus,
} from "../../src/store/queries.ts";
import {
  connection,
  demand,
  DEVICE,
  HOUR_MS,
  message,
  METER_A,
  METER_B,
  meterInfo,
  MINUTE_MS,
  PORT,
  price,
  summation,
  T0,
  tempDatabase,
  time,
} from "./fixtures.ts";

Deno.test("demandSeries: bucket math over 1/5/15/60 minutes, partial and empty ranges", async () => {
  const { db, cleanup } = await tempDatabase();
  try {
    const writer = new IngestWriter(db);
    // Two hours, a sample every 30 s; demand = the minute number, so buckets are easy to check.
    for (let secondOffset = 0; secondOffset < 2 * 3600; secondOffset += 30) {
      const timeMs = T0 + secondOffset * 1000;
      writer.add(PORT, demand(METER_A, timeMs, Math.trunc(secondOffset / 60)), timeMs);
    }
    writer.close();
    const range = { meterKey: METER_A, fromMs: T0, toMs: T0 + 2 * HOUR_MS };

    const fifteen = demandSeries(db, { ...range, bucketMinutes: 15 });
    assert.equal(fifteen.length, 8);
    assert.deepEqual(fifteen[1], {
      bucketStartMs: T0 + 15 * MINUTE_MS,
      avgW: 22, // minutes 15..29, two samples each
      minW: 15,
      maxW: 29,
      samples: 30,
    });
    const hourly = demandSeries(db, { ...range, bucketMinutes: 60 });
    assert.deepEqual(hourly.map((b) => [b.bucketStartMs - T0, b.samples, b.minW, b.maxW]), [
      [0, 120, 0, 59],
      [HOUR_MS, 120, 60, 119],
    ]);
    assert.equal(hourly[1].avgW, 89.5);
    const five = demandSeries(db, { ...range, bucketMinutes: 5 });
    assert.equal(five.length, 24);
    assert.deepEqual([five[3].minW, five[3].maxW, five[3].samples], [15, 19, 10]);
    assert.equal(demandSeries(db, { ...range, bucketMinutes: 1 }).length, 120);

    // A range starting mid-bucket includes the whole bucket it overlaps; toMs is exclusive.
    const partial = demandSeries(db, {
      meterKey: METER_A,
      fromMs: T0 + 20 * MINUTE_MS,
      toMs: T0 + 45 * MINUTE_MS,
      bucketMinutes: 15,
    });
    assert.deepEqual(partial.map((b) => b.bucketStartMs - T0), [15, 30].map((m) => m * MINUTE_MS));

    assert.deepEqual(
      demandSeries(db, {
        ...range,
        fromMs: T0 + 5 * HOUR_MS,
        toMs: T0 + 6 * HOUR_MS,
        bucketMinutes: 15,
      }),
      [],
    );
    assert.deepEqual(demandSeries(db, { ...range, meterKey: METER_B, bucketMinutes: 15 }), []);
    assert.deepEqual(demandSeries(db, { ...range, toMs: T0, bucketMinutes: 15 }), []);
    assert.throws(
      () => demandSeries(db, { ...range, bucketMinutes: 7 as unknown as 5 }),
      RangeError,
    );
  } finally {
    await cleanup();
  }
});

Deno.test("intervalSeries: overlapping intervals in order, with quality names", async () => {
  const { db, cleanup } = await tempDatabase();
  try {
    const writer = new IngestWriter(db, { intervalMinutes: 15 });
    for (let minute = 0; minute <= 60; minute++) {
      const timeMs = T0 + minute * MINUTE_MS;
      writer.add(PORT, summation(METER_A, timeMs, 1000 + 2 * minute, minute), timeMs);
    }
    writer.close();
    const series = intervalSeries(db, {
      meterKey: METER_A,
      fromMs: T0 + 20 * MINUTE_MS,
      toMs: T0 + 45 * MINUTE_MS,
    });
    assert.deepEqual(series, [
      {
        startMs: T0 + 15 * MINUTE_MS,
        durationS: 900,
        deliveredWh: 30,
        receivedWh: 15,
        quality: "valid",
      },
      {
        startMs: T0 + 30 * MINUTE_MS,
        durationS: 900,
        deliveredWh: 30,
        receivedWh: 15,
        quality: "valid",
      },
    ]);
    assert.deepEqual(intervalSeries(db, { meterKey: METER_B, fromMs: T0, toMs: T0 + HOUR_MS }), []);
  } finally {
    await cleanup();
  }
});

Deno.test("latestReadings, listMeters and storeStatus describe each meter", async () => {
  const { db, cleanup } = await tempDatabase();
  try {
    const writer = new IngestWriter(db);
    writer.add(PORT, connection(METER_A), T0);
    writer.add(PORT, meterInfo(METER_A, "Main house"), T0);
    for (let i = 0; i < 10; i++) {
      const timeMs = T0 + i * 10_000;
      writer.add(PORT, demand(METER_A, timeMs, 100 * i), timeMs + 50);
      writer.add("/dev/ttyUSB1", demand(METER_B, timeMs, -50 * i), timeMs + 60);
    }
    writer.add(PORT, summation(METER_A, T0, 5000, 100), T0);
    writer.add(PORT, summation(METER_A, T0 + MINUTE_MS, 5010, 100), T0 + MINUTE_MS);
    writer.add(PORT, price(METER_A, T0, 0.1), T0);
    writer.add(PORT, price(METER_A, T0 + 30_000, 0.25), T0 + 30_000);
    writer.add(PORT, message(METER_A, T0, "0x01", { text: "old" }), T0);
    writer.add(PORT, message(METER_A, T0 + 5000, "0x02", { text: "new" }), T0 + 5000);
    writer.add(PORT, time(METER_A, T0 + 90_000), T0 + 90_000);
    writer.recordLinkState(PORT, "disconnected", T0 + 95_000, "unplugged");
    writer.countWarning(PORT, null, "badFrame", 2);
    writer.countWarning(PORT, METER_A, "badChecksum");
    writer.close();

    const latest = latestReadings(db, METER_A);
    assert.deepEqual(latest.demand, {
      timeMs: T0 + 90_000,
      receivedAtMs: T0 + 90_050,
      demandW: 900,
    });
    assert.equal(latest.summation?.deliveredWh, 5010);
    assert.equal(latest.price?.pricePerKWh, 0.25);
    assert.deepEqual(latest.messages.map((m) => m.text), ["new", "old"]);
    assert.equal(latest.connection?.status, "Connected");
    assert.equal((latest.other.time?.event as { utcTimeMs: number }).utcTimeMs, T0 + 90_000);
    assert.deepEqual(latestReadings(db, "0xnone"), { messages: [], other: {} });

    assert.deepEqual(listMeters(db), [
      {
        meterKey: METER_A,
        port: PORT,
        deviceMac: DEVICE,
        firstSeenMs: T0,
        lastSeenMs: T0 + 90_050,
        name: "Main house",
      },
      {
        meterKey: METER_B,
        port: "/dev/ttyUSB1",
        deviceMac: DEVICE,
        firstSeenMs: T0 + 60,
        lastSeenMs: T0 + 90_060,
      },
    ]);

    const [a, b] = storeStatus(db, { nowMs: T0 + 100_050 });
    assert.equal(a.meterKey, METER_A);
    assert.deepEqual(a.rows, {
      demand: 10,
      summation: 2,
      intervals: 1,
      prices: 2,
      messages: 2,
      demandRollup: 3, // 0–90 s: two 1-minute cells and one 15-minute cell
    });
    assert.equal(a.oldestMs, T0);
    assert.equal(a.newestMs, T0 + 90_000);
    assert.equal(a.lastSeenAgeMs, 10_000);
    assert.deepEqual(a.link, { state: "disconnected", atMs: T0 + 95_000, detail: "unplugged" });
    assert.deepEqual(a.join, { status: "Connected", connected: true, receivedAtMs: T0 });
    assert.deepEqual(a.warnings, { badChecksum: 1, badFrame: 2 });
    assert.equal(b.meterKey, METER_B);
    assert.equal(b.link, null);
    assert.equal(b.join, null);
    assert.deepEqual(b.warnings, {});
    assert.equal(b.rows.demand, 10);
  } finally {
    await cleanup();
  }
});
