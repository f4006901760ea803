/**
 * Retention trimming: the ring tables keep, per meter, only rows whose meter time is within
 * `retentionHours` of that meter's newest meter time. Bucketed rows (intervals, rollups) leave
 * when their start does.
 *
 * Trimming runs inside every flush transaction, so rows and file size stay bounded however long
 * the gateway runs: SQLite reuses the freed pages for the next inserts (no VACUUM needed). Each
 * DELETE is a primary-key range on (meter, time), so it touches only the expired rows.
 *
 * Durable tables (meters, devices, ports, join state, latest state, warnings) are not trimmed.
 *
 * @module
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import { ROLLUP_WIDTHS_MIN } from "./rollup.ts";

/**
 * Ring tables and the condition selecting one meter's expired rows. The rollup names its widths
 * so the DELETE is a key range per width instead of a scan of the meter's whole rollup.
 */
const RING_TABLES = [
  ["demand", "meter_key = ? AND ts_ms < ?"],
  ["summation", "meter_key = ? AND ts_ms < ?"],
  ["prices", "meter_key = ? AND ts_ms < ?"],
  ["messages", "meter_key = ? AND ts_ms < ?"],
  ["intervals", "meter_key = ? AND start_ms < ?"],
  [
    "demand_rollup",
    `meter_key = ? AND bucket_min IN (${ROLLUP_WIDTHS_MIN.join(", ")}) AND bucket_ms < ?`,
  ],
] as const;

/** Deletes one meter's rows older than a cutoff from every ring table. */
export type RingTrimmer = (meterKey: string, cutoffMs: number) => number;

/** Prepares the trim statements once; the returned function gives the number of rows deleted. */
export function prepareRingTrim(db: DatabaseSync): RingTrimmer {
  const statements: StatementSync[] = RING_TABLES.map(([table, where]) =>
    db.prepare(`DELETE FROM ${table} WHERE ${where}`)
  );
  return (meterKey, cutoffMs) => {
    let deleted = 0;
    for (const statement of statements) {
      deleted += Number(statement.run(meterKey, cutoffMs).changes);
    }
    return deleted;
  };
}

/** The oldest meter time a meter keeps, given its newest meter time. */
export function ringCutoffMs(newestMs: number, retentionHours: number): number {
  return newestMs - retentionHours * 3_600_000;
}
