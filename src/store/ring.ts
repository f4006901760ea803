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

import type { DatabaseSync } from "node:sqlite";
import { ROLLUP_WIDTHS_MIN } from "./rollup.ts";
import { statement } from "./statements.ts";

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

const TRIM_SQL = RING_TABLES.map(([table, where]) => `DELETE FROM ${table} WHERE ${where}`);

/** Deletes one meter's rows older than `cutoffMs` from every ring table; gives how many. */
export function trimRing(db: DatabaseSync, meterKey: string, cutoffMs: number): number {
  let deleted = 0;
  for (const sql of TRIM_SQL) deleted += Number(statement(db, sql).run(meterKey, cutoffMs).changes);
  return deleted;
}

/** The oldest meter time a meter keeps, given its newest meter time. */
export function ringCutoffMs(newestMs: number, retentionHours: number): number {
  return newestMs - retentionHours * 3_600_000;
}
