/**
 * Store-and-forward of interval readings: sends every complete interval a sink has not
 * acknowledged, per meter and oldest first, and moves the persisted cursor only past what the sink
 * acknowledged. While the sink is unreachable nothing is sent and nothing is lost (the ring keeps
 * the readings); the next run picks up where the cursor stands.
 *
 * Delivery is at least once: a batch cut short (acknowledgement lost, gateway stopped) is sent
 * again from the cursor, which is why readings carry stable keys.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { intervalRevision, pendingIntervals, saveExportCursor } from "../store/export_cursor.ts";
import { type IntervalReading, listMeters } from "../store/queries.ts";

export interface ForwardOptions {
  db: DatabaseSync;
  /** Cursor name, e.g. `mqtt`. */
  sink: string;
  /** Most readings in flight at once; each batch moves the cursor once. */
  batchSize: number;
  /** Checked before each batch: false stops the run (sink offline, exporter stopping). */
  canSend: () => boolean;
  /**
   * Sends one meter's readings in order and resolves with how many, from the first, the sink
   * acknowledged (fewer than given: the rest failed and will be sent again).
   */
  send: (meterKey: string, readings: IntervalReading[]) => Promise<number>;
  nowMs?: () => number;
}

/** One pass over every meter's backlog; resolves with the number of readings acknowledged. */
export async function forwardIntervals(options: ForwardOptions): Promise<number> {
  const { db, sink } = options;
  const nowMs = options.nowMs ?? Date.now;
  let acknowledged = 0;
  for (const { meterKey } of listMeters(db)) {
    while (options.canSend()) {
      const revision = intervalRevision(db, meterKey);
      const batch = pendingIntervals(db, { sink, meterKey, limit: options.batchSize });
      if (batch.length === 0) break;
      const count = await options.send(meterKey, batch);
      if (count > 0) {
        const last = batch[count - 1];
        saveExportCursor(db, {
          sink,
          meterKey,
          cursor: { startMs: last.startMs, durationS: last.durationS },
          nowMs: nowMs(),
          // A gap repair while the batch was out rewound the cursor: it stays there.
          revision,
        });
        acknowledged += count;
      }
      if (count < batch.length) return acknowledged;
    }
  }
  return acknowledged;
}
