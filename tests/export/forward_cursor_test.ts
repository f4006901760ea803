/**
 * The store-and-forward cursor without a broker: only complete intervals are sent, oldest first;
 * the cursor moves only past what the sink acknowledged and survives reopening the database; a
 * sink that is offline gets nothing.
 *
 * @module
 */

import assert from "node:assert/strict";
import { forwardIntervals } from "../../src/export/forward_cursor.ts";
import { openDatabase } from "../../src/store/db.ts";
import { pendingIntervalCount, readExportCursor } from "../../src/store/export_cursor.ts";
import { IngestWriter } from "../../src/store/ingest.ts";
import type { IntervalReading } from "../../src/store/queries.ts";
import { METER_A, MINUTE_MS, PORT, summation, T0 } from "../store/fixtures.ts";

const SINK = "test";

Deno.test("forwardIntervals: complete intervals in order, cursor after acknowledged only", async () => {
  const dir = await Deno.makeTempDir({ prefix: "openseg-forward-" });
  const path = `${dir}/gateway.db`;
  let db = openDatabase(path);
  try {
    const writer = new IngestWriter(db, { intervalMinutes: 5 });
    // A register reading every minute for 32 minutes: intervals 0–25 min complete, 30 min open.
    for (let minute = 0; minute <= 32; minute++) {
      writer.add(PORT, summation(METER_A, T0 + minute * MINUTE_MS, 1000 + minute * 10), T0);
    }
    writer.close();
    assert.equal(pendingIntervalCount(db, { sink: SINK, meterKey: METER_A }), 6);

    const sent: IntervalReading[] = [];
    const offline = await forwardIntervals({
      db,
      sink: SINK,
      batchSize: 4,
      canSend: () => false,
      send: () => Promise.reject(new Error("must not send while offline")),
    });
    assert.equal(offline, 0);

    // The sink acknowledges only the first 3 of the first batch of 4, then fails.
    const partial = await forwardIntervals({
      db,
      sink: SINK,
      batchSize: 4,
      canSend: () => true,
      send: (_meterKey, readings) => {
        sent.push(...readings);
        return Promise.resolve(3);
      },
    });
    assert.equal(partial, 3);
    assert.deepEqual(readExportCursor(db, { sink: SINK, meterKey: METER_A }), {
      startMs: T0 + 10 * MINUTE_MS,
      durationS: 300,
    });

    db.close();
    db = openDatabase(path);
    const resent: IntervalReading[] = [];
    const rest = await forwardIntervals({
      db,
      sink: SINK,
      batchSize: 2,
      canSend: () => true,
      send: (_meterKey, readings) => {
        resent.push(...readings);
        return Promise.resolve(readings.length);
      },
    });
    assert.equal(rest, 3);
    assert.deepEqual(resent.map((r) => (r.startMs - T0) / MINUTE_MS), [15, 20, 25]);
    assert.ok(resent.every((r) => r.durationS === 300 && r.deliveredWh === 50));
    assert.equal(pendingIntervalCount(db, { sink: SINK, meterKey: METER_A }), 0);
    assert.deepEqual(sent.slice(0, 3).map((r) => (r.startMs - T0) / MINUTE_MS), [0, 5, 10]);
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});
