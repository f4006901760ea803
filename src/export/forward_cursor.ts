/**
 * Store-and-forward of interval readings: sends every complete interval a sink has not
 * acknowledged, per meter and oldest first, and moves the persisted cursor only past what the sink
 * acknowledged. While the sink is unreachable nothing is sent and nothing is lost (the ring keeps
 * the readings); the next run picks up where the cursor stands.
 *
 * Delivery is at least once: a batch cut short (acknowledgement lost, gateway stopped) is sent
 * again from the cursor, which is why readings carry stable keys.
 *
 * Sink-agnostic: the MQTT export and each database export (`db_export.ts`) run their passes
 * through `intervalForwarder`, each under its own cursor name.
 *
 * Households decide what leaves the gateway (`exportAllowedSinceMs`): in a building, a meter whose
 * household has not allowed exports is left out, its cursor staying where it is; once allowed, the
 * readings that started before that moment are passed over (the cursor moves past them unsent),
 * so a household that shares its data from now on never has its earlier readings exported.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import {
  intervalRevision,
  pendingIntervalCount,
  pendingIntervals,
  saveExportCursor,
} from "../store/export_cursor.ts";
import { exportAllowedSinceMs } from "../store/households.ts";
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
  const { db, sink, batchSize: limit } = options;
  const nowMs = options.nowMs ?? Date.now;
  let acknowledged = 0;
  for (const { meterKey } of listMeters(db)) {
    if (!options.canSend()) break;
    if (exportAllowedSinceMs(db, meterKey) === null) continue;
    let revision = intervalRevision(db, meterKey);
    let batch = pendingIntervals(db, { sink, meterKey, limit });
    while (batch.length > 0) {
      // Asked before each batch: a household that withdraws stops its backlog at once.
      const sinceMs = exportAllowedSinceMs(db, meterKey);
      if (sinceMs === null) break;
      // Oldest first: the readings from before the household allowed exports are a prefix.
      const passed = batch.findIndex((reading) => reading.startMs >= sinceMs);
      const passedOver = passed === -1 ? batch.length : passed;
      const sending = passedOver === batch.length
        ? Promise.resolve(0)
        : options.send(meterKey, batch.slice(passedOver));
      const last = batch[batch.length - 1];
      // The store is synchronous and the sink is not: the next batch is read while this one is
      // in flight. It starts after this batch, not at the cursor, which moves only once acked.
      const nextRevision = intervalRevision(db, meterKey);
      const next = pendingIntervals(db, {
        sink,
        meterKey,
        limit,
        after: { startMs: last.startMs, durationS: last.durationS },
      });
      const sent = await sending;
      const count = passedOver + sent;
      let saved = true;
      if (count > 0) {
        const acked = batch[count - 1];
        saved = saveExportCursor(db, {
          sink,
          meterKey,
          cursor: { startMs: acked.startMs, durationS: acked.durationS },
          nowMs: nowMs(),
          // A gap repair while the batch was out rewound the cursor: it stays there.
          revision,
        });
        acknowledged += sent;
      }
      if (count < batch.length) return acknowledged;
      if (!options.canSend()) return acknowledged;
      // Rewound by a repair: the batch read ahead may lie past it, so this meter starts over.
      if (!saved) break;
      batch = next;
      revision = nextRevision;
    }
  }
  return acknowledged;
}

/**
 * Complete interval readings `sink` has not acknowledged yet, over the meters whose data may be
 * exported (a meter its household keeps to itself has no backlog).
 */
export function exportBacklog(db: DatabaseSync, sink: string): number {
  return listMeters(db).reduce(
    (sum, { meterKey }) =>
      exportAllowedSinceMs(db, meterKey) === null
        ? sum
        : sum + pendingIntervalCount(db, { sink, meterKey }),
    0,
  );
}

export interface IntervalForwarder {
  /** Starts a pass now, or one more after the running pass; ignored while `canSend()` is false. */
  wake(): void;
  /** Resolves when no pass is running (at once when idle). */
  settled(): Promise<void>;
}

/**
 * Runs `forwardIntervals` passes one at a time, whatever the sink: a wake during a pass asks for
 * another pass after it (a reading committed meanwhile is not left waiting for the next wake).
 * `onSent` gets each completed pass's acknowledged count; a pass that throws goes to `onError`,
 * with the cursor left at the last acknowledged batch.
 */
export function intervalForwarder(
  options: ForwardOptions & {
    onSent?: (count: number) => void;
    onError: (error: unknown) => void;
  },
): IntervalForwarder {
  let draining: Promise<void> | null = null;
  let rerun = false;
  return {
    wake() {
      if (!options.canSend()) return;
      if (draining !== null) {
        rerun = true;
        return;
      }
      draining = (async () => {
        do {
          rerun = false;
          const sent = await forwardIntervals(options);
          options.onSent?.(sent);
        } while (rerun && options.canSend());
      })().catch(options.onError).finally(() => (draining = null));
    },
    settled: () => draining ?? Promise.resolve(),
  };
}
