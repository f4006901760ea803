/**
 * A ring full of interval readings without a radio: per-minute register readings for several
 * meters, ending now, written through the real ingest path (so intervals are derived and
 * complete exactly as in the gateway). Used by the database export tests and benchmarks.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import type { SummationEvent } from "../../src/radio/events.ts";
import { IngestWriter } from "../../src/store/ingest.ts";

const MINUTE_MS = 60_000;

/** The meter MAC of the `index`th filled meter. */
export function ringMeter(index: number): string {
  return `0x00135001000010${index.toString(16).padStart(2, "0")}`;
}

/** Writes `minutes` + 1 per-minute register readings for each of `meters` meters. */
export function fillRing(
  db: DatabaseSync,
  options: { meters: number; minutes: number; intervalMinutes: 1 | 5 | 15 | 60 },
): void {
  const writer = new IngestWriter(db, {
    intervalMinutes: options.intervalMinutes,
    maxBatch: 20_000,
  });
  const endMs = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS;
  for (let meter = 0; meter < options.meters; meter++) {
    for (let minute = options.minutes; minute >= 0; minute--) {
      const event: SummationEvent = {
        kind: "summation",
        fragment: "CurrentSummationDelivered",
        device: "0xd8d5b90000001000",
        meter: ringMeter(meter),
        timeMs: endMs - minute * MINUTE_MS,
        summationDeliveredWh: 1_000_000 + (options.minutes - minute) * (9 + meter),
        summationReceivedWh: (options.minutes - minute) * meter,
        digitsRight: 3,
      };
      writer.add(`ring:${meter}`, event, event.timeMs!);
    }
  }
  writer.close();
}
