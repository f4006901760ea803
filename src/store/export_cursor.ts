/**
 * Store-and-forward bookkeeping for exporters: which interval readings a sink (the MQTT broker)
 * has acknowledged, per meter, and which complete ones it still lacks.
 *
 * An interval is complete once the meter's newest register reading lies at or after its end:
 * every later reading is split after that point (`interval_deriver.ts`), so a complete row never
 * changes again and can be sent exactly once. The cursor lives outside the ring, so it survives
 * restarts; rows the ring trimmed before they were sent are gone (the outage outlasted the window).
 * The one exception: a gap repair replaces estimated intervals by the meter's own and rewinds the
 * cursors (`rewindExportCursors`), so sinks receive those again under the same key.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { all, get, statement } from "./statements.ts";
import { QUALITY_CODES } from "./migrations.ts";
import type { IntervalReading } from "./queries.ts";

/** The last interval a sink acknowledged for one meter. */
export interface ExportCursor {
  startMs: number;
  durationS: number;
}

/** The cursor of `sink` for `meterKey`, or null when nothing was sent yet. */
export function readExportCursor(
  db: DatabaseSync,
  q: { sink: string; meterKey: string },
): ExportCursor | null {
  const row = get<ExportCursor>(
    db,
    `SELECT start_ms AS startMs, duration_s AS durationS FROM export_cursors
     WHERE sink = ? AND meter_key = ?`,
    q.sink,
    q.meterKey,
  );
  return row === undefined ? null : { startMs: row.startMs, durationS: row.durationS };
}

/**
 * Records that `sink` acknowledged everything up to and including `cursor`. With `revision` (the
 * meter's {@link intervalRevision} read before the batch), only when no gap repair changed the
 * meter's intervals since: the batch may then hold values the repair replaced, and the cursor
 * must stay where the repair put it so the new values are sent. False when not saved.
 */
export function saveExportCursor(
  db: DatabaseSync,
  q: { sink: string; meterKey: string; cursor: ExportCursor; nowMs: number; revision?: number },
): boolean {
  const changes = statement(
    db,
    `INSERT INTO export_cursors (sink, meter_key, start_ms, duration_s, updated_ms)
     SELECT :sink, :meterKey, :startMs, :durationS, :nowMs
     WHERE :revision IS NULL OR :revision =
       (SELECT coalesce(max(interval_revision), 0) FROM meters WHERE meter_key = :meterKey)
     ON CONFLICT (sink, meter_key) DO UPDATE SET start_ms = excluded.start_ms,
       duration_s = excluded.duration_s, updated_ms = excluded.updated_ms`,
  ).run({
    sink: q.sink,
    meterKey: q.meterKey,
    startMs: q.cursor.startMs,
    durationS: q.cursor.durationS,
    nowMs: q.nowMs,
    revision: q.revision ?? null,
  }).changes;
  return changes > 0;
}

/** How often gap repairs changed `meterKey`'s stored intervals (0 for an unknown meter). */
export function intervalRevision(db: DatabaseSync, meterKey: string): number {
  const row = get<{ revision: number }>(
    db,
    "SELECT coalesce(max(interval_revision), 0) AS revision FROM meters WHERE meter_key = ?",
    meterKey,
  )!;
  return row.revision;
}

/**
 * Records that a gap repair changed `meterKey`'s intervals from `startMs` on: bumps its
 * {@link intervalRevision} (so a batch read before cannot move a cursor past the change) and moves
 * every sink's cursor that had passed `startMs` back to just before it, so the changed intervals
 * are sent again under the same key. A cursor of (`startMs`, 0) acknowledges nothing at or after
 * `startMs`. Returns the number of cursors moved.
 */
export function rewindExportCursors(
  db: DatabaseSync,
  q: { meterKey: string; startMs: number; nowMs: number },
): number {
  statement(db, "UPDATE meters SET interval_revision = interval_revision + 1 WHERE meter_key = ?")
    .run(q.meterKey);
  return Number(
    statement(
      db,
      `UPDATE export_cursors SET start_ms = :startMs, duration_s = 0, updated_ms = :nowMs
       WHERE meter_key = :meterKey
         AND (start_ms > :startMs OR (start_ms = :startMs AND duration_s > 0))`,
    ).run({ meterKey: q.meterKey, startMs: q.startMs, nowMs: q.nowMs }).changes,
  );
}

/** Complete intervals after the cursor (null: from the oldest kept), oldest first. */
const PENDING_WHERE = `
  meter_key = :meterKey
  AND (:startMs IS NULL OR start_ms > :startMs OR (start_ms = :startMs AND duration_s > :durationS))
  AND start_ms + duration_s * 1000 <= (SELECT max(ts_ms) FROM summation WHERE meter_key = :meterKey)`;

/**
 * Up to `limit` complete intervals `sink` has not acknowledged yet, oldest first; with `after`,
 * those after that interval instead of after the stored cursor (the next batch, read while the
 * previous one is in flight).
 */
export function pendingIntervals(
  db: DatabaseSync,
  q: { sink: string; meterKey: string; limit: number; after?: ExportCursor },
): IntervalReading[] {
  const cursor = q.after ?? readExportCursor(db, q);
  const rows = all<Omit<IntervalReading, "quality"> & { quality: number }>(
    db,
    `SELECT start_ms AS startMs, duration_s AS durationS, delivered_wh AS deliveredWh,
       received_wh AS receivedWh, quality
     FROM intervals WHERE ${PENDING_WHERE}
     ORDER BY start_ms, duration_s LIMIT :limit`,
    {
      meterKey: q.meterKey,
      startMs: cursor?.startMs ?? null,
      durationS: cursor?.durationS ?? null,
      limit: Math.max(1, Math.trunc(q.limit)),
    },
  );
  return rows.map((row) => ({
    startMs: row.startMs,
    durationS: row.durationS,
    deliveredWh: row.deliveredWh,
    receivedWh: row.receivedWh,
    quality: QUALITY_NAMES[row.quality] ?? "questionable",
  }));
}

/** How many complete intervals `sink` still lacks for `meterKey`. */
export function pendingIntervalCount(
  db: DatabaseSync,
  q: { sink: string; meterKey: string },
): number {
  const cursor = readExportCursor(db, q);
  const row = get<{ n: number }>(db, `SELECT count(*) AS n FROM intervals WHERE ${PENDING_WHERE}`, {
    meterKey: q.meterKey,
    startMs: cursor?.startMs ?? null,
    durationS: cursor?.durationS ?? null,
  })!;
  return row.n;
}

const QUALITY_NAMES = Object.fromEntries(
  Object.entries(QUALITY_CODES).map(([name, code]) => [code, name]),
) as Record<number, IntervalReading["quality"]>;
