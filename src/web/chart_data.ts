/**
 * What the 48-hour chart draws, computed from the API's series: the time window of a view, energy
 * bars binned from interval readings, price-tier bands derived from what each interval cost, and
 * axis ticks. Pure functions (no DOM), unit-tested under Deno.
 *
 * @module
 */

import type { BucketSize, DemandBucket, IntervalReading } from "./queries.ts";

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

/** One of the chart's views. */
export interface ChartView {
  hours: 6 | 24 | 48;
  /** Demand bucket the API averages over. */
  bucket: BucketSize;
  bucketMs: number;
  /** Energy bars are interval readings summed into bins this wide. */
  barMs: number;
}

export const CHART_VIEWS: readonly ChartView[] = [
  {
    hours: 6,
    bucket: "FIVE_MINUTES",
    bucketMs: 5 * MINUTE_MS,
    barMs: 15 * MINUTE_MS,
  },
  {
    hours: 24,
    bucket: "FIFTEEN_MINUTES",
    bucketMs: 15 * MINUTE_MS,
    barMs: HOUR_MS,
  },
  {
    hours: 48,
    bucket: "FIFTEEN_MINUTES",
    bucketMs: 15 * MINUTE_MS,
    barMs: HOUR_MS,
  },
];

/** Tick spacings the time axis may use; the first that leaves room for the labels wins. */
const TICK_STEPS_MS = [1, 2, 3, 4, 6, 8, 12, 24].map((hours) => hours * HOUR_MS);

export interface TimeWindow {
  fromMs: number;
  toMs: number;
}

/**
 * The view's window ending at the next bucket boundary after `endMs` (the later of the clock and
 * the newest reading: a simulated meter can run ahead of the clock).
 */
export function viewWindow(view: ChartView, endMs: number): TimeWindow {
  const toMs = Math.ceil(endMs / view.bucketMs) * view.bucketMs;
  return { fromMs: toMs - view.hours * HOUR_MS, toMs };
}

export interface DemandPoint {
  /** Middle of the bucket. */
  timeMs: number;
  powerW: number;
}

/** Demand buckets as points, split into runs wherever buckets are missing (a gap in readings). */
export function demandRuns(buckets: readonly DemandBucket[]): DemandPoint[][] {
  const runs: DemandPoint[][] = [];
  let previousEndMs = -Infinity;
  for (const bucket of buckets) {
    const startMs = Date.parse(bucket.start);
    const durationMs = bucket.durationS * 1000;
    const point = { timeMs: startMs + durationMs / 2, powerW: bucket.avgW };
    if (startMs > previousEndMs || runs.length === 0) runs.push([point]);
    else runs[runs.length - 1].push(point);
    previousEndMs = startMs + durationMs;
  }
  return runs;
}

export interface EnergyBar {
  startMs: number;
  durationMs: number;
  deliveredWh: number;
  receivedWh: number;
}

/** Interval readings summed into bins of `barMs` (aligned to the epoch, so views stay stable). */
export function energyBars(intervals: readonly IntervalReading[], barMs: number): EnergyBar[] {
  const bins = new Map<number, EnergyBar>();
  for (const interval of intervals) {
    const startMs = Math.floor(Date.parse(interval.start) / barMs) * barMs;
    const bar = bins.get(startMs) ??
      { startMs, durationMs: barMs, deliveredWh: 0, receivedWh: 0 };
    bar.deliveredWh += interval.deliveredWh;
    bar.receivedWh += interval.receivedWh;
    bins.set(startMs, bar);
  }
  return [...bins.values()].sort((a, b) => a.startMs - b.startMs);
}

export interface PriceBand {
  startMs: number;
  endMs: number;
  ratePerKWh: number;
  /** 1 for the cheapest rate seen in the window, counting up. */
  level: number;
}

/** Rates within this factor of the cheapest rate of their group are one tier. */
const SAME_TIER_FACTOR = 1.05;

/**
 * Spans of equal price, from what each interval's energy cost. Costs are rounded, so the rate of a
 * small interval is only near its tier's; rates are grouped into tiers, each named by the rate of
 * its interval with the most energy. Intervals that bought nothing (exporting) or had no known
 * price say nothing about the rate and extend the current band.
 */
export function priceBands(intervals: readonly IntervalReading[]): PriceBand[] {
  const priced = intervals.filter((i) => i.cost !== null && i.deliveredWh > 0);
  const tiers = rateTiers(priced);
  const bands: PriceBand[] = [];
  for (const interval of intervals) {
    const startMs = Date.parse(interval.start);
    const endMs = startMs + interval.durationS * 1000;
    const last = bands.at(-1);
    const tier = interval.cost === null || interval.deliveredWh <= 0
      ? undefined
      : tiers.find((t) => intervalRate(interval) <= t.upToRate);
    if (tier === undefined) {
      if (last !== undefined) last.endMs = endMs;
    } else if (last !== undefined && last.level === tier.level) {
      last.endMs = endMs;
    } else {
      bands.push({ startMs, endMs, ratePerKWh: tier.ratePerKWh, level: tier.level });
    }
  }
  return bands;
}

function intervalRate(interval: IntervalReading): number {
  return interval.cost! / interval.deliveredWh * 1000;
}

interface RateTier {
  level: number;
  ratePerKWh: number;
  /** The highest interval rate in the tier. */
  upToRate: number;
}

function rateTiers(priced: readonly IntervalReading[]): RateTier[] {
  const sorted = [...priced].sort((a, b) => intervalRate(a) - intervalRate(b));
  const tiers: RateTier[] = [];
  let lowestRate = -Infinity;
  let heaviest: IntervalReading | null = null;
  for (const interval of sorted) {
    const rate = intervalRate(interval);
    if (rate > lowestRate * SAME_TIER_FACTOR) {
      lowestRate = rate;
      heaviest = interval;
      tiers.push({ level: tiers.length + 1, ratePerKWh: rate, upToRate: rate });
    }
    const tier = tiers[tiers.length - 1];
    tier.upToRate = rate;
    if (interval.deliveredWh > heaviest!.deliveredWh) heaviest = interval;
    tier.ratePerKWh = Math.round(intervalRate(heaviest!) * 1e4) / 1e4;
  }
  return tiers;
}

/** The tiers the bands show, cheapest first. */
export function bandTiers(bands: readonly PriceBand[]): { level: number; ratePerKWh: number }[] {
  const byLevel = new Map(bands.map((band) => [band.level, band.ratePerKWh]));
  return [...byLevel].sort(([a], [b]) => a - b)
    .map(([level, ratePerKWh]) => ({ level, ratePerKWh }));
}

/**
 * Tick times inside the window, on whole local hours, spaced so that labels `minGapPx` wide fit
 * in `widthPx`.
 */
export function timeTicks(
  window: TimeWindow,
  widthPx: number,
  minGapPx: number,
  utcOffsetMs: number,
): number[] {
  const spanMs = window.toMs - window.fromMs;
  const stepMs = TICK_STEPS_MS.find((step) => step / spanMs * widthPx >= minGapPx) ??
    TICK_STEPS_MS[TICK_STEPS_MS.length - 1];
  const ticks: number[] = [];
  let tickMs = Math.ceil((window.fromMs + utcOffsetMs) / stepMs) * stepMs - utcOffsetMs;
  for (; tickMs <= window.toMs; tickMs += stepMs) ticks.push(tickMs);
  return ticks;
}

/** A "nice" upper bound for an axis: 1, 2 or 5 times a power of ten, at least `value`. */
export function niceCeiling(value: number): number {
  if (value <= 0) return 0;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}
