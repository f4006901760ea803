/**
 * The demand rollup: per meter, per 1-minute and 15-minute bucket, the count, sum, min and max of
 * demand samples, so a 48-hour series is read from a few hundred rollup rows instead of tens of
 * thousands of raw samples.
 *
 * A flush first folds its samples into cells here (a 250 ms batch rarely spans more than one
 * bucket per meter), then `writes.ts` merges the cells into the table with multi-row UPSERTs.
 *
 * @module
 */

/** Bucket widths kept in `demand_rollup`, in minutes. */
export const ROLLUP_WIDTHS_MIN = [1, 15] as const;

/** One bucket's aggregate for one meter. */
export interface RollupCell {
  meterKey: string;
  bucketMin: number;
  bucketMs: number;
  n: number;
  sumW: number;
  minW: number;
  maxW: number;
}

/** The stored width a series in `bucketMinutes` buckets is computed from (the widest dividing it). */
export function rollupWidthFor(bucketMinutes: number): number {
  let best: number = ROLLUP_WIDTHS_MIN[0];
  for (const width of ROLLUP_WIDTHS_MIN) if (bucketMinutes % width === 0) best = width;
  return best;
}

/** One meter's cells of this flush: per width, cells by bucket start, plus the last one used. */
interface MeterCells {
  byBucket: Map<number, RollupCell>[];
  last: (RollupCell | undefined)[];
}

const WIDTHS_MS = ROLLUP_WIDTHS_MIN.map((minutes) => minutes * 60_000);

/**
 * Accumulates one flush's demand samples into rollup cells. Samples of a meter arrive mostly in
 * time order, so the last cell per width is checked first; this is the hot path of a flush.
 */
export class DemandRollupBatch {
  #meters = new Map<string, MeterCells>();

  add(meterKey: string, tsMs: number, demandW: number): void {
    let meter = this.#meters.get(meterKey);
    if (!meter) {
      meter = { byBucket: WIDTHS_MS.map(() => new Map()), last: WIDTHS_MS.map(() => undefined) };
      this.#meters.set(meterKey, meter);
    }
    for (let i = 0; i < WIDTHS_MS.length; i++) {
      const bucketMs = Math.floor(tsMs / WIDTHS_MS[i]) * WIDTHS_MS[i];
      let cell = meter.last[i];
      if (cell === undefined || cell.bucketMs !== bucketMs) {
        cell = meter.byBucket[i].get(bucketMs);
        if (cell === undefined) {
          cell = {
            meterKey,
            bucketMin: ROLLUP_WIDTHS_MIN[i],
            bucketMs,
            n: 0,
            sumW: 0,
            minW: demandW,
            maxW: demandW,
          };
          meter.byBucket[i].set(bucketMs, cell);
        }
        meter.last[i] = cell;
      }
      cell.n += 1;
      cell.sumW += demandW;
      if (demandW < cell.minW) cell.minW = demandW;
      if (demandW > cell.maxW) cell.maxW = demandW;
    }
  }

  *cells(): Iterable<RollupCell> {
    for (const meter of this.#meters.values()) {
      for (const byBucket of meter.byBucket) yield* byBucket.values();
    }
  }
}
