/**
 * One fragment stamped far in the future must not wipe a meter's stored data: the ring is trimmed
 * against each meter's newest meter time, so a lone leap is held back and dropped (counted), while
 * a real jump (the gateway was off for hours) is confirmed by the next reading and stored.
 *
 * @module
 */

import assert from "node:assert/strict";
import { IngestWriter } from "../../src/store/ingest.ts";
import { storeStatus } from "../../src/store/queries.ts";
import {
  demand,
  HOUR_MS,
  METER_A,
  MINUTE_MS,
  PORT,
  rowCount,
  summation,
  T0,
  tempDatabase,
} from "../store/fixtures.ts";

/** Six hours of demand every minute and registers every 5 minutes, then one flush. */
function sixHours(writer: IngestWriter): number {
  let wh = 1_000_000;
  let count = 0;
  for (let ms = 0; ms < 6 * HOUR_MS; ms += MINUTE_MS) {
    writer.add(PORT, demand(METER_A, T0 + ms, 800), T0 + ms);
    count++;
    if (ms % (5 * MINUTE_MS) === 0) {
      wh += 70;
      writer.add(PORT, summation(METER_A, T0 + ms, wh, 0), T0 + ms);
      count++;
    }
  }
  writer.flush();
  return count;
}

Deno.test("a lone far-future meter time is dropped and counted; no stored row is trimmed", async () => {
  const { db, path, cleanup } = await tempDatabase();
  try {
    const writer = new IngestWriter(db);
    sixHours(writer);
    const demandRows = rowCount(db, "demand");
    const summationRows = rowCount(db, "summation");
    // Year 2135: the largest time the wire format can carry.
    const farFutureMs = Date.UTC(2135, 0, 1);
    writer.add(PORT, demand(METER_A, farFutureMs, 900), T0 + 6 * HOUR_MS);
    writer.flush();
    writer.add(PORT, demand(METER_A, T0 + 6 * HOUR_MS, 810), T0 + 6 * HOUR_MS);
    writer.flush();
    assert.equal(rowCount(db, "demand"), demandRows + 1, "every real reading kept, the leap not");
    assert.equal(rowCount(db, "summation"), summationRows);
    const newest = db.prepare("SELECT max(ts_ms) AS ms FROM demand").get() as { ms: number };
    assert.equal(newest.ms, T0 + 6 * HOUR_MS);
    assert.equal(storeStatus(db)[0].warnings.timeLeap, 1);
    writer.close();
    db.close();

    // After a restart the anchor comes from the file, so a leap is still held.
    const { openDatabase } = await import("../../src/store/db.ts");
    const reopened = openDatabase(path);
    const again = new IngestWriter(reopened);
    again.add(PORT, demand(METER_A, farFutureMs, 900), T0 + 7 * HOUR_MS);
    again.add(PORT, demand(METER_A, T0 + 6 * HOUR_MS + MINUTE_MS, 820), T0 + 7 * HOUR_MS);
    again.close();
    assert.equal(rowCount(reopened, "demand"), demandRows + 2);
    reopened.close();
  } finally {
    await cleanup();
  }
});

Deno.test("a real jump in meter time (gateway off for a day) is confirmed by the next reading", async () => {
  const { db, cleanup } = await tempDatabase();
  try {
    const writer = new IngestWriter(db);
    sixHours(writer);
    const before = rowCount(db, "demand");
    const backMs = T0 + 30 * HOUR_MS;
    writer.add(PORT, demand(METER_A, backMs, 700), backMs);
    writer.flush();
    assert.equal(rowCount(db, "demand"), before, "the first reading after the jump waits");
    writer.add(PORT, demand(METER_A, backMs + 8_000, 710), backMs + 8_000);
    writer.flush();
    const rows = db.prepare(
      "SELECT ts_ms AS tsMs FROM demand WHERE ts_ms >= ? ORDER BY ts_ms",
    ).all(backMs) as { tsMs: number }[];
    assert.deepEqual(rows.map((row) => row.tsMs), [backMs, backMs + 8_000]);
    assert.equal(storeStatus(db)[0].warnings.timeLeap, undefined);
    writer.close();
  } finally {
    await cleanup();
  }
});
