/**
 * Store-and-forward in a building (the path of the MQTT interval stream and of every database
 * export): two households, three meters (`tests/building.ts`). Nothing leaves until a household
 * allows it; then only its own meters' readings from that moment on (the earlier ones are passed
 * over, never sent); turned off, nothing more; turned on again, only from the new moment. A single
 * home sends everything, as before.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { DatabaseSync } from "node:sqlite";
import { exportBacklog, forwardIntervals } from "../../src/export/forward_cursor.ts";
import { openDatabase } from "../../src/store/db.ts";
import { readExportCursor } from "../../src/store/export_cursor.ts";
import { setExportAllowed } from "../../src/store/households.ts";
import { IngestWriter } from "../../src/store/ingest.ts";
import type { IntervalReading } from "../../src/store/queries.ts";
import { makeBuilding } from "../building.ts";
import { MINUTE_MS, PORT, summation, T0 } from "../store/fixtures.ts";

const SINK = "test";
const METERS = ["0x0013500100001001", "0x0013500100001002", "0x0013500100001003"];

/** Per-minute register readings of every meter for minutes `[from, to]` after T0. */
function readings(db: DatabaseSync, from: number, to: number): void {
  const writer = new IngestWriter(db, { intervalMinutes: 5 });
  for (const [index, meter] of METERS.entries()) {
    for (let minute = from; minute <= to; minute++) {
      writer.add(PORT, summation(meter, T0 + minute * MINUTE_MS, minute * (10 + index)), T0);
    }
  }
  writer.close();
}

/** One pass; what was sent, by meter key. */
async function pass(db: DatabaseSync): Promise<Map<string, IntervalReading[]>> {
  const sent = new Map<string, IntervalReading[]>();
  await forwardIntervals({
    db,
    sink: SINK,
    batchSize: 7,
    canSend: () => true,
    send: (meterKey, batch) => {
      sent.set(meterKey, [...(sent.get(meterKey) ?? []), ...batch]);
      return Promise.resolve(batch.length);
    },
  });
  return sent;
}

const starts = (sent: IntervalReading[] | undefined) =>
  (sent ?? []).map((reading) => (reading.startMs - T0) / MINUTE_MS);

Deno.test("building: a household's readings are exported from the moment it allows it, and only its own", async () => {
  const dir = await Deno.makeTempDir({ prefix: "openseg-forward-households-" });
  const db = openDatabase(`${dir}/gateway.db`);
  try {
    readings(db, 0, 60);
    const { a, b } = makeBuilding(db, T0 + 60 * MINUTE_MS);
    assert.deepEqual(a.meterKeys, METERS.slice(0, 2));

    // Nobody allowed it: nothing leaves, nothing is owed.
    assert.deepEqual(await pass(db), new Map());
    assert.equal(exportBacklog(db, SINK), 0);

    // A allows it "at minute 30": the intervals from 30 on (complete up to 60: 30…55) go out.
    setExportAllowed(db, a.householdId, true, T0 + 30 * MINUTE_MS);
    const first = await pass(db);
    assert.deepEqual([...first.keys()], a.meterKeys);
    for (const meterKey of a.meterKeys) {
      assert.deepEqual(starts(first.get(meterKey)), [30, 35, 40, 45, 50, 55]);
    }
    // The readings of before were passed over: nothing of them is owed either.
    assert.equal(exportBacklog(db, SINK), 0);

    // A turns it off: new readings of its meters stay on the gateway.
    setExportAllowed(db, a.householdId, false, T0 + 61 * MINUTE_MS);
    readings(db, 61, 90);
    assert.deepEqual(await pass(db), new Map());

    // On again "at minute 80": from 80 on, never the 60…75 it kept to itself.
    setExportAllowed(db, a.householdId, true, T0 + 80 * MINUTE_MS);
    const again = await pass(db);
    assert.deepEqual([...again.keys()], a.meterKeys);
    for (const meterKey of a.meterKeys) assert.deepEqual(starts(again.get(meterKey)), [80, 85]);

    // B never allowed it: none of its meter's readings ever left, not even passed over.
    assert.equal(readExportCursor(db, { sink: SINK, meterKey: b.meterKeys[0] }), null);
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("single home: every meter's readings are exported, whatever the switch says", async () => {
  const dir = await Deno.makeTempDir({ prefix: "openseg-forward-home-" });
  const db = openDatabase(`${dir}/gateway.db`);
  try {
    readings(db, 0, 30);
    setExportAllowed(db, 1, false, T0);
    const sent = await pass(db);
    assert.deepEqual([...sent.keys()], METERS);
    for (const meterKey of METERS) {
      assert.deepEqual(starts(sent.get(meterKey)), [0, 5, 10, 15, 20, 25]);
    }
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});
