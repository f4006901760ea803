/**
 * Interval energy derived from summation register deltas.
 *
 * @module
 */

import assert from "node:assert/strict";
import { IngestWriter } from "../../src/store/ingest.ts";
import { splitReadingDelta } from "../../src/store/intervals.ts";
import { intervalSeries } from "../../src/store/queries.ts";
import { METER_A, MINUTE_MS, PORT, summation, T0, tempDatabase } from "./fixtures.ts";

const DAY_RANGE = { meterKey: METER_A, fromMs: T0 - 86_400_000, toMs: T0 + 86_400_000 };

function close(actual: number, expected: number, message?: string) {
  assert.ok(Math.abs(actual - expected) < 1e-6, `${message ?? ""} ${actual} ≠ ${expected}`);
}

Deno.test("a delta is split across an interval boundary in proportion to time", () => {
  const shares = splitReadingDelta(
    { tsMs: T0 + 3 * MINUTE_MS, deliveredWh: 1000, receivedWh: 0 },
    { tsMs: T0 + 8 * MINUTE_MS, deliveredWh: 1100, receivedWh: 0 },
    { intervalMs: 5 * MINUTE_MS, gapMs: 15 * MINUTE_MS },
  );
  assert.deepEqual(shares.map((share) => share.startMs), [T0, T0 + 5 * MINUTE_MS]);
  close(shares[0].deliveredWh, 40);
  close(shares[1].deliveredWh, 60);
  assert.ok(shares.every((share) => share.quality === "valid"));
});

Deno.test("readings through the writer give interval energy; duplicates do not double-count", async () => {
  const { db, cleanup } = await tempDatabase();
  try {
    const writer = new IngestWriter(db, { intervalMinutes: 5 });
    // 10 Wh per minute, readings each minute at :30 for one hour.
    for (let minute = 0; minute <= 60; minute++) {
      const timeMs = T0 + minute * MINUTE_MS + 30_000;
      writer.add(PORT, summation(METER_A, timeMs, 5000 + 10 * minute), timeMs);
    }
    writer.flush();
    // Repeat a slice, in the same flush and in a later one.
    for (let minute = 20; minute <= 40; minute++) {
      const timeMs = T0 + minute * MINUTE_MS + 30_000;
      writer.add(PORT, summation(METER_A, timeMs, 5000 + 10 * minute), timeMs + 5);
      writer.add(PORT, summation(METER_A, timeMs, 5000 + 10 * minute), timeMs + 9);
    }
    const stats = writer.flush();
    assert.equal(stats.duplicates, 42);
    assert.equal(stats.intervalShares, 0);
    writer.close();

    const series = intervalSeries(db, DAY_RANGE);
    assert.equal(series.length, 13); // 00:00 (from :00:30) … 01:00 (to 01:00:30)
    close(series.reduce((sum, row) => sum + row.deliveredWh, 0), 600, "total");
    for (const row of series.slice(1, -1)) {
      close(row.deliveredWh, 50, "full interval");
      assert.equal(row.durationS, 300);
      assert.equal(row.quality, "valid");
    }
    close(series[0].deliveredWh, 45, "first (from :00:30)");
    close(series[12].deliveredWh, 5, "last (to 01:00:30)");
  } finally {
    await cleanup();
  }
});

Deno.test("export (received) energy rises with solar while import stays flat", async () => {
  const { db, cleanup } = await tempDatabase();
  try {
    const writer = new IngestWriter(db);
    for (let minute = 0; minute <= 30; minute++) {
      const timeMs = T0 + minute * MINUTE_MS;
      // Import register frozen, export grows faster each minute (sun coming up).
      const receivedWh = 200 + minute * minute;
      writer.add(PORT, summation(METER_A, timeMs, 8000, receivedWh), timeMs);
    }
    writer.close();
    const series = intervalSeries(db, DAY_RANGE);
    assert.equal(series.length, 6);
    for (const row of series) close(row.deliveredWh, 0);
    const exports = series.map((row) => row.receivedWh);
    for (let i = 1; i < exports.length; i++) assert.ok(exports[i] > exports[i - 1]);
    close(exports.reduce((sum, wh) => sum + wh, 0), 900);
  } finally {
    await cleanup();
  }
});

Deno.test("a gap between readings makes the intervals it spans estimated", async () => {
  const { db, cleanup } = await tempDatabase();
  try {
    const writer = new IngestWriter(db, { gapMinutes: 15 });
    const readings: [number, number][] = [[0, 100], [1, 110], [2, 120], [42, 520], [43, 530]];
    for (const [minute, wh] of readings) {
      writer.add(PORT, summation(METER_A, T0 + minute * MINUTE_MS, wh), T0);
    }
    writer.close();
    const series = intervalSeries(db, DAY_RANGE);
    const quality = Object.fromEntries(
      series.map((row) => [(row.startMs - T0) / MINUTE_MS, row.quality]),
    );
    assert.equal(quality[0], "estimated"); // 00:00 holds 00:02–00:05 of the gap
    for (const minute of [5, 10, 15, 20, 25, 30, 35]) assert.equal(quality[minute], "estimated");
    assert.equal(quality[40], "estimated"); // 00:40–00:42 is gap, 00:42–00:43 is not: worst wins
    close(series.reduce((sum, row) => sum + row.deliveredWh, 0), 430, "total is still exact");
  } finally {
    await cleanup();
  }
});

Deno.test("a register going backwards (meter replaced) makes the interval questionable", async () => {
  const { db, cleanup } = await tempDatabase();
  try {
    const writer = new IngestWriter(db);
    const readings: [number, number][] = [[0, 90_000], [1, 90_010], [6, 3], [7, 13], [11, 53]];
    for (const [minute, wh] of readings) {
      writer.add(PORT, summation(METER_A, T0 + minute * MINUTE_MS, wh), T0);
    }
    writer.close();
    const series = intervalSeries(db, DAY_RANGE);
    assert.deepEqual(series.map((row) => row.quality), ["questionable", "questionable", "valid"]);
    // 00:00: 0→1 is 10 Wh, the backwards 1→6 counts 0; 00:05: 6→10 is 40 Wh; 00:10: 10→11.
    close(series[0].deliveredWh, 10, "only the sane deltas count");
    close(series[1].deliveredWh, 40);
    close(series[2].deliveredWh, 10);
  } finally {
    await cleanup();
  }
});

Deno.test("interval length is configurable: 1, 5, 15 and 60 minutes", async () => {
  for (const intervalMinutes of [1, 5, 15, 60] as const) {
    const { db, cleanup } = await tempDatabase();
    try {
      const writer = new IngestWriter(db, { intervalMinutes });
      for (let minute = 0; minute <= 120; minute++) {
        const timeMs = T0 + minute * MINUTE_MS;
        writer.add(PORT, summation(METER_A, timeMs, 6 * minute), timeMs);
      }
      writer.close();
      const series = intervalSeries(db, DAY_RANGE);
      assert.equal(series.length, 120 / intervalMinutes, `${intervalMinutes} min`);
      for (const row of series) {
        assert.equal(row.durationS, intervalMinutes * 60);
        assert.equal((row.startMs - T0) % (intervalMinutes * MINUTE_MS), 0);
        close(row.deliveredWh, 6 * intervalMinutes);
        assert.equal(row.quality, "valid");
      }
    } finally {
      await cleanup();
    }
  }
});

Deno.test("a late (older) reading is stored but not split again", async () => {
  const { db, cleanup } = await tempDatabase();
  try {
    const writer = new IngestWriter(db);
    writer.add(PORT, summation(METER_A, T0, 100), T0);
    writer.add(PORT, summation(METER_A, T0 + 10 * MINUTE_MS, 200), T0);
    writer.flush();
    writer.add(PORT, summation(METER_A, T0 + 5 * MINUTE_MS, 150), T0);
    writer.close();
    const total = intervalSeries(db, DAY_RANGE).reduce((sum, row) => sum + row.deliveredWh, 0);
    close(total, 100);
  } finally {
    await cleanup();
  }
});
