/**
 * Gap repair, store side: which complete intervals of a meter are `estimated` (an outage the
 * meter may still hold the truth for). `IngestWriter.repairIntervals` replaces them.
 *
 * Only complete intervals are offered: the meter's newest register reading lies at or after their
 * end, so no later reading adds a share to them (`interval_deriver.ts`) and a replaced value stays
 * as the meter reported it.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { all } from "./statements.ts";
import type { EstimatedInterval } from "../radio/gap_repair.ts";
import { QUALITY_CODES } from "./migrations.ts";

/**
 * Up to `limit` complete estimated intervals of `durationS` of `meterKey` starting at or after
 * `fromMs`, oldest first.
 */
export function estimatedIntervals(
  db: DatabaseSync,
  q: { meterKey: string; durationS: number; fromMs: number; limit: number },
): EstimatedInterval[] {
  return all<EstimatedInterval>(
    db,
    `SELECT start_ms AS startMs, duration_s AS durationS, delivered_wh AS deliveredWh,
       received_wh AS receivedWh
     FROM intervals
     WHERE meter_key = :meterKey AND duration_s = :durationS AND quality = :estimated
       AND start_ms >= :fromMs AND start_ms + duration_s * 1000 <=
         (SELECT max(ts_ms) FROM summation WHERE meter_key = :meterKey)
     ORDER BY start_ms LIMIT :limit`,
    {
      meterKey: q.meterKey,
      durationS: q.durationS,
      estimated: QUALITY_CODES.estimated,
      // -Infinity does not bind as an INTEGER.
      fromMs: Number.isFinite(q.fromMs) ? Math.trunc(q.fromMs) : Number.MIN_SAFE_INTEGER,
      limit: Math.max(1, Math.trunc(q.limit)),
    },
  );
}
