/**
 * The readings of a usage point view, from the store: IntervalReadings per channel over the
 * view's window and resolution, grouped into local days (one IntervalBlock each; the block id is
 * the day's start in Unix seconds, stable for as long as the data is kept), and the totals of its
 * UsageSummary.
 *
 * @module
 */

import {
  demandAverages,
  peakDemandW,
  type PricedInterval,
  pricedIntervals,
  registerSamples,
} from "../store/interval_reads.ts";
import { QUALITY_CODES } from "../store/migrations.ts";
import type { Channel } from "./channels.ts";
import { localDayStartMs } from "./local_time.ts";
import type { ReadingValue } from "./resources.ts";
import { DEFAULT_NATIVE_INTERVAL_S } from "../auth/read_policy.ts";
import type { EspiContext, UsagePointView } from "./usage_point_view.ts";

const HOUR_MS = 3_600_000;

/** ESPI QualityOfReading of a stored quality code; null (omitted) for valid data. */
function espiQuality(code: number): number | null {
  if (code === QUALITY_CODES.valid) return null;
  // 9: spread linearly over a gap between register readings; 10: failed a check.
  return code === QUALITY_CODES.estimated ? 9 : 10;
}

/** The view's priced intervals, read once per view (two channels and the summary use them). */
function intervalsOf(context: EspiContext, view: UsagePointView): PricedInterval[] {
  view.intervals ??= pricedIntervals(context.db, {
    meterKey: view.meterKey,
    fromMs: view.fromMs,
    toMs: view.toMs,
    nativeS: view.facts.nativeIntervalS ?? DEFAULT_NATIVE_INTERVAL_S,
    intervalS: view.intervalS,
  });
  return view.intervals;
}

/** The IntervalReadings of one channel over the view's window, oldest first. */
export function channelReadings(
  context: EspiContext,
  view: UsagePointView,
  channel: Channel,
): ReadingValue[] {
  const { intervalS } = view;
  const window = { meterKey: view.meterKey, fromMs: view.fromMs, toMs: view.toMs, intervalS };
  switch (channel.name) {
    case "energyDelivered":
    case "energyReceived": {
      const delivered = channel.name === "energyDelivered";
      const priced = delivered && view.grantedData.has("COST");
      return intervalsOf(context, view).map((row) => ({
        startS: row.startMs / 1000,
        durationS: intervalS,
        value: Math.round(delivered ? row.deliveredWh : row.receivedWh),
        cost: priced ? row.costHundredThousandths : null,
        quality: espiQuality(row.qualityCode),
      }));
    }
    case "demand":
      return demandAverages(context.db, window)
        // A bucket still filling is not an interval average yet.
        .filter((row) => row.bucketStartMs + intervalS * 1000 <= context.nowMs)
        .map((row) => ({
          startS: row.bucketStartMs / 1000,
          durationS: intervalS,
          value: Math.round(row.avgW),
          cost: null,
          quality: null,
        }));
    case "registerDelivered":
    case "registerReceived": {
      const readings: ReadingValue[] = [];
      for (const sample of registerSamples(context.db, window)) {
        const wh = channel.name === "registerDelivered" ? sample.deliveredWh : sample.receivedWh;
        if (wh === null) continue;
        readings.push({
          startS: sample.intervalStartMs / 1000,
          durationS: intervalS,
          value: Math.round(wh),
          cost: null,
          quality: null,
        });
      }
      return readings;
    }
  }
}

/** Readings grouped by local day; `id` is the day's start in Unix seconds. */
export function dailyBlocks(
  timeZone: string,
  readings: ReadingValue[],
): { id: string; readings: ReadingValue[] }[] {
  const blocks: { id: string; readings: ReadingValue[] }[] = [];
  let nextDayMs = -Infinity;
  for (const reading of readings) {
    const startMs = reading.startS * 1000;
    if (startMs >= nextDayMs) {
      const dayMs = localDayStartMs(timeZone, startMs);
      // 26 h later is always inside the next day, whether days have 23, 24 or 25 hours.
      nextDayMs = localDayStartMs(timeZone, dayMs + 26 * HOUR_MS);
      blocks.push({ id: String(dayMs / 1000), readings: [] });
    }
    blocks[blocks.length - 1].readings.push(reading);
  }
  return blocks;
}

/** The totals of a view's UsageSummary. */
export interface UsageTotals {
  startMs: number;
  endMs: number;
  deliveredWh: number;
  /** Null when any interval is unpriced or the grant does not include cost. */
  costHundredThousandths: number | null;
  currencyCode: number | null;
  /** Worst stored quality code of the intervals (`QUALITY_CODES`). */
  worstQualityCode: number;
  /** Null without samples or when the grant does not include peak demand. */
  peak: { demandW: number; atMs: number } | null;
}

/** Totals of the served window; null when it holds no interval data. */
export function usageTotals(context: EspiContext, view: UsagePointView): UsageTotals | null {
  const intervals = intervalsOf(context, view);
  if (intervals.length === 0) return null;
  const startMs = intervals[0].startMs;
  const endMs = intervals[intervals.length - 1].startMs + view.intervalS * 1000;
  let deliveredWh = 0;
  let cost: number | null = view.grantedData.has("COST") ? 0 : null;
  let worst: number = QUALITY_CODES.valid;
  for (const row of intervals) {
    deliveredWh += row.deliveredWh;
    cost = cost === null || row.costHundredThousandths === null
      ? null
      : cost + row.costHundredThousandths;
    worst = Math.max(worst, row.qualityCode);
  }
  const peak = view.grantedData.has("PEAK_DEMAND")
    ? peakDemandW(context.db, { meterKey: view.meterKey, fromMs: startMs, toMs: endMs })
    : null;
  return {
    startMs,
    endMs,
    deliveredWh,
    costHundredThousandths: cost,
    currencyCode: cost === null ? null : intervals[0].currencyCode,
    worstQualityCode: worst,
    peak,
  };
}
