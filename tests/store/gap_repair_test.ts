/**
 * The store side of gap repair: which intervals are offered as estimated, what a repair replaces
 * (only estimated rows, marked as the meter's), and how export cursors are rewound so sinks
 * receive the repaired intervals again — also when the rewind races a batch in flight.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { DatabaseSync } from "node:sqlite";
import {
  intervalRevision,
  pendingIntervals,
  readExportCursor,
  saveExportCursor,
} from "../../src/store/export_cursor.ts";
import { estimatedIntervals } from "../../src/store/gap_intervals.ts";
import { IngestWriter } from "../../src/store/ingest.ts";
import { INTERVAL_SOURCES, QUALITY_CODES } from "../../src/store/migrations.ts";
import { HOUR_MS, METER_A, MINUTE_MS, PORT, summation, T0, tempDatabase } from "./fixtures.ts";

const INTERVAL_MS = 5 * MINUTE_MS;

/** Readings a minute apart for 10 min, a one-hour gap, then 10 min more: 12 estimated rows. */
function storeGap(writer: IngestWriter): void {
  const at = (ms: number) => 1_000_000 + (ms - T0) / MINUTE_MS * 10;
  for (let ms = T0; ms <= T0 + 10 * MINUTE_MS; ms += MINUTE_MS) {
    writer.add(PORT, summation(METER_A, ms, at(ms)), ms);
  }
  const back = T0 + 70 * MINUTE_MS;
  for (let ms = back; ms <= back + 10 * MINUTE_MS; ms += MINUTE_MS) {
    writer.add(PORT, summation(METER_A, ms, at(ms)), ms);
  }
  writer.flush();
}

function rows(db: DatabaseSync) {
  return db.prepare(
    "SELECT start_ms, delivered_wh, quality, source FROM intervals WHERE meter_key = ? ORDER BY start_ms",
  ).all(METER_A) as { start_ms: number; delivered_wh: number; quality: number; source: number }[];
}

const all = (fromMs = -Infinity) => ({ meterKey: METER_A, durationS: 300, fromMs, limit: 100 });

Deno.test("estimated intervals: complete ones only, oldest first, from a start time on", async () => {
  const { db, cleanup } = await tempDatabase();
  try {
    const writer = new IngestWriter(db, { intervalMinutes: 5 });
    storeGap(writer);
    const estimated = estimatedIntervals(db, all());
    assert.deepEqual(
      estimated.map((e) => (e.startMs - T0) / MINUTE_MS),
      [10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65],
    );
    assert.ok(estimated.every((e) => e.durationS === 300 && Math.abs(e.deliveredWh - 50) < 1e-9));
    assert.equal(estimatedIntervals(db, all(T0 + 60 * MINUTE_MS)).length, 2);
    assert.equal(estimatedIntervals(db, { ...all(), limit: 3 }).length, 3);
    assert.equal(estimatedIntervals(db, { ...all(), durationS: 900 }).length, 0);
    // A second gap closed by a reading mid-interval: that interval is not complete yet.
    // (Two readings: a lone one that far ahead waits for the next to agree, see time_leap.ts.)
    for (const minute of [152, 153]) {
      const ms = T0 + minute * MINUTE_MS;
      writer.add(PORT, summation(METER_A, ms, 1_000_000 + minute * 10), ms);
    }
    writer.flush();
    const second = estimatedIntervals(db, all(T0 + 80 * MINUTE_MS));
    assert.equal((second[0].startMs - T0) / MINUTE_MS, 80);
    assert.equal((second.at(-1)!.startMs - T0) / MINUTE_MS, 145);
    writer.close();
  } finally {
    await cleanup();
  }
});

Deno.test("a repair replaces estimated rows only, marked valid and from the meter", async () => {
  const { db, cleanup } = await tempDatabase();
  try {
    const writer = new IngestWriter(db, { intervalMinutes: 5 });
    storeGap(writer);
    const before = rows(db);
    const valid = before.find((row) => row.quality === QUALITY_CODES.valid)!;
    writer.repairIntervals(METER_A, [
      { startMs: T0 + 10 * MINUTE_MS, durationS: 300, deliveredWh: 70, receivedWh: 0 },
      { startMs: T0 + 15 * MINUTE_MS, durationS: 300, deliveredWh: 30, receivedWh: 0 },
      // A valid row and one that does not exist are left alone.
      { startMs: valid.start_ms, durationS: 300, deliveredWh: 999, receivedWh: 0 },
      { startMs: T0 - HOUR_MS, durationS: 300, deliveredWh: 999, receivedWh: 0 },
    ]);
    assert.equal(writer.flush().repairedIntervals, 2);
    const after = rows(db);
    assert.equal(after.length, before.length);
    const at = (minute: number) => after.find((row) => row.start_ms === T0 + minute * MINUTE_MS);
    assert.deepEqual({ ...at(10) }, {
      start_ms: T0 + 10 * MINUTE_MS,
      delivered_wh: 70,
      quality: QUALITY_CODES.valid,
      source: INTERVAL_SOURCES.meter,
    });
    assert.equal(at(15)?.delivered_wh, 30);
    assert.deepEqual(after.find((row) => row.start_ms === valid.start_ms), valid);
    assert.equal(estimatedIntervals(db, all()).length, 10);
    // Later readings never add to a repaired (complete) interval.
    writer.add(PORT, summation(METER_A, T0 + 90 * MINUTE_MS, 1_000_900), T0 + 90 * MINUTE_MS);
    writer.flush();
    assert.equal(rows(db).find((row) => row.start_ms === T0 + 10 * MINUTE_MS)?.delivered_wh, 70);
    writer.close();
  } finally {
    await cleanup();
  }
});

Deno.test("a repair rewinds export cursors past it, so sinks get the intervals again", async () => {
  const { db, cleanup } = await tempDatabase();
  try {
    const writer = new IngestWriter(db, { intervalMinutes: 5 });
    storeGap(writer);
    const everything = pendingIntervals(db, { sink: "mqtt", meterKey: METER_A, limit: 100 });
    const last = everything.at(-1)!;
    // One sink sent everything, another only up to before the gap.
    saveExportCursor(db, { sink: "mqtt", meterKey: METER_A, cursor: last, nowMs: 1 });
    const early = { startMs: T0, durationS: 300 };
    saveExportCursor(db, { sink: "db", meterKey: METER_A, cursor: early, nowMs: 1 });
    // A batch the mqtt sink read before the repair, acknowledged after it.
    const revision = intervalRevision(db, METER_A);
    writer.repairIntervals(METER_A, [
      { startMs: T0 + 20 * MINUTE_MS, durationS: 300, deliveredWh: 80, receivedWh: 0 },
    ]);
    writer.flush();
    assert.equal(
      saveExportCursor(db, {
        sink: "mqtt",
        meterKey: METER_A,
        cursor: last,
        nowMs: 2,
        revision,
      }),
      false,
    );
    const again = pendingIntervals(db, { sink: "mqtt", meterKey: METER_A, limit: 100 });
    assert.equal(again[0].startMs, T0 + 20 * MINUTE_MS);
    assert.equal(again[0].quality, "valid");
    assert.equal(again[0].deliveredWh, 80);
    assert.equal(again.length, (last.startMs - again[0].startMs) / INTERVAL_MS + 1);
    // The sink behind the repair is not moved ...
    assert.deepEqual(readExportCursor(db, { sink: "db", meterKey: METER_A }), early);
    // ... but a batch it read before the repair (one holding the old values, not yet
    // acknowledged) cannot move its cursor past the repaired interval either.
    assert.equal(
      saveExportCursor(db, { sink: "db", meterKey: METER_A, cursor: last, nowMs: 2, revision }),
      false,
    );
    assert.deepEqual(readExportCursor(db, { sink: "db", meterKey: METER_A }), early);
    // A batch read after the repair moves it.
    const now = intervalRevision(db, METER_A);
    assert.equal(now, revision + 1);
    assert.ok(
      saveExportCursor(db, {
        sink: "db",
        meterKey: METER_A,
        cursor: last,
        nowMs: 3,
        revision: now,
      }),
    );
    writer.close();
  } finally {
    await cleanup();
  }
});
