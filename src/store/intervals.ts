/**
 * Interval energy from summation register deltas.
 *
 * Between two consecutive register readings the energy delta is spread uniformly over time and
 * split across interval boundaries in proportion to the overlap (the only fair split without finer
 * data). Each share carries a quality flag:
 * - `valid`: the readings are close together, so the split is close to the truth;
 * - `estimated`: the readings are further apart than `gapMs` (an outage), so the shape inside the
 *   gap is a guess even though the total is right;
 * - `questionable`: a register went backwards (meter replaced or reset, or a bad read); the delta is
 *   unknown, so the shares carry 0 Wh.
 *
 * Pure functions; `ingest.ts` stores the shares.
 *
 * @module
 */

/** The worst quality wins when shares merge into one interval. */
export type IntervalQuality = "valid" | "estimated" | "questionable";

/** A summation register reading at meter time `tsMs`. */
export interface RegisterReading {
  tsMs: number;
  deliveredWh: number;
  /** Null when the meter did not report export. */
  receivedWh: number | null;
}

/** The part of one reading delta that falls into the interval starting at `startMs`. */
export interface IntervalShare {
  startMs: number;
  deliveredWh: number;
  receivedWh: number;
  quality: IntervalQuality;
}

export interface SplitOptions {
  /** Interval length (1, 5, 15 or 60 minutes in ms). */
  intervalMs: number;
  /** Readings further apart than this make their shares `estimated`. */
  gapMs: number;
  /** Shares in intervals ending at or before this are dropped (outside retention anyway). */
  notBeforeMs?: number;
}

/** Splits the delta between `previous` and `next` (next later) into per-interval shares. */
export function splitReadingDelta(
  previous: RegisterReading,
  next: RegisterReading,
  options: SplitOptions,
): IntervalShare[] {
  const spanMs = next.tsMs - previous.tsMs;
  if (!(spanMs > 0)) return [];
  const deliveredWh = next.deliveredWh - previous.deliveredWh;
  // Export is only known when both readings carry it.
  const receivedWh = next.receivedWh !== null && previous.receivedWh !== null
    ? next.receivedWh - previous.receivedWh
    : 0;
  const backwards = deliveredWh < 0 || receivedWh < 0;
  const quality: IntervalQuality = backwards
    ? "questionable"
    : spanMs > options.gapMs
    ? "estimated"
    : "valid";
  const { intervalMs } = options;
  const shares: IntervalShare[] = [];
  let fromMs = Math.max(previous.tsMs, options.notBeforeMs ?? previous.tsMs);
  // Align a clipped start to the interval containing it, but never before the previous reading.
  fromMs = Math.max(previous.tsMs, intervalStartMs(fromMs, intervalMs));
  while (fromMs < next.tsMs) {
    const startMs = intervalStartMs(fromMs, intervalMs);
    const toMs = Math.min(startMs + intervalMs, next.tsMs);
    const fraction = (toMs - fromMs) / spanMs;
    shares.push({
      startMs,
      deliveredWh: backwards ? 0 : deliveredWh * fraction,
      receivedWh: backwards ? 0 : receivedWh * fraction,
      quality,
    });
    fromMs = toMs;
  }
  return shares;
}

/** Start of the interval containing `tsMs` (intervals are aligned to the Unix epoch). */
export function intervalStartMs(tsMs: number, intervalMs: number): number {
  return Math.floor(tsMs / intervalMs) * intervalMs;
}
