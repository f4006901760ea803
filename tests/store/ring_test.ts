/**
 * The ring stays bounded: a week of synthetic traffic for two meters keeps rows and file size
 * flat after the first two days, and the rollup answers like the raw samples would.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { DatabaseSync } from "node:sqlite";
import { IngestWriter } from "../../src/store/ingest.ts";
import { DEMAND_SERIES_SQL, demandSeries } from "../../src/store/queries.ts";
import {
  demand,
  HOUR_MS,
  message,
  METER_A,
  METER_B,
  MINUTE_MS,
  PORT,
  price,
  rowCount,
  summation,
  T0,
  tempDatabase,
} from "./fixtures.ts";

const DAY_MS = 24 * HOUR_MS;
const DAYS = 7;
const RETENTION_HOURS = 48;
const RING_TABLES = ["demand", "summation", "intervals", "demand_rollup", "prices", "messages"];
const DURABLE_TABLES = ["meters", "ports", "latest_state", "warnings", "join_state", "devices"];

/** Signed demand in W: a daily solar dip below zero plus deterministic jitter. */
function demandW(meterIndex: number, tsMs: number): number {
  const dayFraction = (tsMs % DAY_MS) / DAY_MS;
  const solar = Math.max(0, Math.sin((dayFraction - 0.25) * 2 * Math.PI)) * 3000;
  const jitter = ((tsMs / 10_000) * 7919 + meterIndex * 104729) % 400;
  return Math.round(1200 + meterIndex * 300 + jitter - solar);
}

/** Feeds one simulated day (meter time = receive time) into the writer. */
function simulateDay(writer: IngestWriter, day: number, registers: number[][]): void {
  const meters = [METER_A, METER_B];
  for (let offsetMs = 0; offsetMs < DAY_MS; offsetMs += 10_000) {
    const tsMs = T0 + day * DAY_MS + offsetMs;
    meters.forEach((meter, index) => {
      const w = demandW(index, tsMs);
      writer.add(PORT, demand(meter, tsMs, w), tsMs + 40);
      // Integrate demand into the import/export registers.
      const wh = (w * 10) / 3600;
      if (wh >= 0) registers[index][0] += wh;
      else registers[index][1] -= wh;
      if (offsetMs % MINUTE_MS === 0) {
        writer.add(PORT, summation(meter, tsMs, registers[index][0], registers[index][1]), tsMs);
      }
      if (offsetMs % (15 * MINUTE_MS) === 0) writer.add(PORT, price(meter, tsMs, 0.1), tsMs);
      if (offsetMs % (2 * HOUR_MS) === 0) {
        writer.add(PORT, message(meter, tsMs, `0x${(tsMs / HOUR_MS).toString(16)}`), tsMs);
      }
    });
  }
  writer.flush();
}

async function fileBytes(path: string): Promise<number> {
  let bytes = 0;
  for (const suffix of ["", "-wal"]) {
    try {
      bytes += (await Deno.stat(path + suffix)).size;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return bytes;
}

function span(db: DatabaseSync, table: string, column: string, meterKey: string) {
  return db.prepare(
    `SELECT min(${column}) AS oldest, max(${column}) AS newest FROM ${table} WHERE meter_key = ?`,
  ).get(meterKey) as { oldest: number; newest: number };
}

Deno.test("a week of traffic keeps rows and file size flat after day 2", async () => {
  const { db, path, cleanup } = await tempDatabase();
  try {
    const writer = new IngestWriter(db, { retentionHours: RETENTION_HOURS });
    const registers = [[10_000, 0], [20_000, 0]];
    const perDay: { rows: Record<string, number>; bytes: number }[] = [];
    for (let day = 0; day < DAYS; day++) {
      simulateDay(writer, day, registers);
      db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      const rows = Object.fromEntries(
        [...RING_TABLES, ...DURABLE_TABLES].map((table) => [table, rowCount(db, table)]),
      );
      perDay.push({ rows, bytes: await fileBytes(path) });
    }
    writer.close();
    console.log("day | bytes | rows per table");
    perDay.forEach(({ rows, bytes }, day) => console.log(day + 1, bytes, JSON.stringify(rows)));

    const reference = perDay[1];
    for (const [day, { rows, bytes }] of perDay.entries()) {
      if (day < 2) continue;
      for (const table of [...RING_TABLES, ...DURABLE_TABLES]) {
        const tolerance = Math.max(2, reference.rows[table] * 0.01);
        assert.ok(
          Math.abs(rows[table] - reference.rows[table]) <= tolerance,
          `day ${day + 1} ${table}: ${rows[table]} vs ${reference.rows[table]}`,
        );
      }
      assert.ok(
        bytes <= perDay[2].bytes * 1.05,
        `day ${day + 1}: ${bytes} bytes vs ${perDay[2].bytes} on day 3`,
      );
    }

    const retentionMs = RETENTION_HOURS * HOUR_MS;
    for (const meter of [METER_A, METER_B]) {
      for (
        const [table, column] of [["demand", "ts_ms"], ["summation", "ts_ms"], ["prices", "ts_ms"]]
      ) {
        const { oldest, newest } = span(db, table, column, meter);
        assert.ok(newest - oldest <= retentionMs, `${table}: ${newest - oldest}`);
        assert.ok(newest - oldest >= retentionMs - HOUR_MS, `${table} keeps ~48 h`);
      }
    }
    const integrity = db.prepare("PRAGMA integrity_check").get() as { integrity_check: string };
    assert.equal(integrity.integrity_check, "ok");
  } finally {
    await cleanup();
  }
});

Deno.test("the rollup answers a 48 h series like the raw samples, without reading them", async () => {
  const { db, cleanup } = await tempDatabase();
  try {
    const writer = new IngestWriter(db, { retentionHours: RETENTION_HOURS });
    const registers = [[0, 0], [0, 0]];
    for (let day = 0; day < 3; day++) simulateDay(writer, day, registers);
    writer.close();

    const { newest } = span(db, "demand", "ts_ms", METER_A);
    // Whole buckets strictly inside retention (the oldest bucket may be partly trimmed).
    const toMs = Math.floor(newest / HOUR_MS) * HOUR_MS;
    const fromMs = toMs - 47 * HOUR_MS;
    for (const bucketMinutes of [1, 5, 15, 60] as const) {
      const bucketMs = bucketMinutes * MINUTE_MS;
      const series = demandSeries(db, { meterKey: METER_A, fromMs, toMs, bucketMinutes });
      const raw = db.prepare(
        `SELECT (ts_ms / CAST(? AS INTEGER)) * CAST(? AS INTEGER) AS bucketStartMs, avg(demand_w) AS avgW, min(demand_w) AS minW,
           max(demand_w) AS maxW, count(*) AS samples
         FROM demand WHERE meter_key = ? AND ts_ms >= ? AND ts_ms < ? AND demand_w IS NOT NULL
         GROUP BY bucketStartMs ORDER BY bucketStartMs`,
      ).all(bucketMs, bucketMs, METER_A, fromMs, toMs) as unknown as typeof series;
      assert.equal(series.length, (47 * 60) / bucketMinutes);
      assert.equal(series.length, raw.length);
      series.forEach((bucket, i) => {
        assert.equal(bucket.bucketStartMs, raw[i].bucketStartMs);
        assert.equal(bucket.samples, raw[i].samples);
        assert.equal(bucket.minW, raw[i].minW);
        assert.equal(bucket.maxW, raw[i].maxW);
        assert.ok(Math.abs(bucket.avgW - raw[i].avgW) < 1e-9);
      });
    }

    const query = { meterKey: METER_A, fromMs: newest - 48 * HOUR_MS, toMs: newest + 1 };
    const started = performance.now();
    const runs = 50;
    for (let i = 0; i < runs; i++) demandSeries(db, { ...query, bucketMinutes: 15 });
    const perQueryMs = (performance.now() - started) / runs;
    console.log(`48 h × 15 min demandSeries: ${perQueryMs.toFixed(3)} ms per query`);
    assert.ok(perQueryMs < 20);

    // The 15-minute series must come from the rollup alone.
    const plan = db.prepare(`EXPLAIN QUERY PLAN ${DEMAND_SERIES_SQL}`).all({
      meterKey: METER_A,
      width: 15,
      bucketMs: 900_000,
      fromMs: query.fromMs,
      toMs: query.toMs,
    }).map((row) => String(row.detail));
    console.log("plan:", plan.join(" | "));
    assert.ok(plan.some((detail) => /SEARCH demand_rollup USING PRIMARY KEY/.test(detail)));
    assert.ok(!plan.some((detail) => /\bdemand\b(?!_rollup)/.test(detail)), plan.join("; "));
  } finally {
    await cleanup();
  }
});
