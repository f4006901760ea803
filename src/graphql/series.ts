/**
 * Series for a time range, within limits: demand buckets, priced interval energy and usage
 * summaries. Ranges are validated (ordered, at most `MAX_RANGE_MS`, at most `MAX_BUCKETS`
 * buckets) before the store is asked; an app's range is cut to its granted history and its
 * resolution kept no finer than granted.
 *
 * @module
 */

import { DEFAULT_NATIVE_INTERVAL_S, servedIntervalS } from "../auth/read_policy.ts";
import { localDayStartMs } from "../espi/local_time.ts";
import { currencyAlpha } from "../radio/currency.ts";
import { meterFeedFacts, peakDemandW, pricedIntervals } from "../store/interval_reads.ts";
import { QUALITY_CODES } from "../store/migrations.ts";
import { type BucketMinutes, type DemandBucket, demandSeries } from "../store/queries.ts";
import type { Access } from "./access.ts";
import { apiError } from "./errors.ts";

/** The longest range one request may ask for (the cache keeps 48 hours; a week is generous). */
export const MAX_RANGE_MS = 7 * 24 * 3_600_000;
/** The most buckets or intervals one series may return (48 hours of 1-minute buckets fit). */
export const MAX_BUCKETS = 3000;

const HOUR_MS = 3_600_000;

export interface TimeRange {
  fromMs: number;
  toMs: number;
}

export interface PricedReading {
  startMs: number;
  durationS: number;
  deliveredWh: number;
  receivedWh: number;
  cost: number | null;
  currency: string | null;
  quality: keyof typeof QUALITY_CODES;
}

export type UsagePeriod = "TODAY" | "LAST_24_HOURS" | "LAST_48_HOURS";

export interface UsageSummary extends TimeRange {
  period: UsagePeriod;
  deliveredWh: number;
  receivedWh: number;
  cost: number | null;
  currency: string | null;
  unpricedWh: number;
  peakDemandW: number | null;
  peakAtMs: number | null;
}

const QUALITY_BY_CODE = Object.fromEntries(
  Object.entries(QUALITY_CODES).map(([name, code]) => [code, name]),
) as Record<number, keyof typeof QUALITY_CODES>;

/** Checks a requested range and cuts it to what the caller may see; null when nothing is left. */
export function checkedRange(
  range: TimeRange,
  options: { access: Access; nowMs: number; stepS: number },
): TimeRange | null {
  if (!(range.fromMs < range.toMs)) throw apiError("BAD_USER_INPUT", "`from` must be before `to`");
  if (range.toMs - range.fromMs > MAX_RANGE_MS) {
    throw apiError(
      "RANGE_TOO_LARGE",
      `the range spans ${formatHours(range.toMs - range.fromMs)}; at most ${
        formatHours(MAX_RANGE_MS)
      } per request (the gateway keeps 48 hours)`,
    );
  }
  const buckets = Math.ceil((range.toMs - range.fromMs) / (options.stepS * 1000));
  if (buckets > MAX_BUCKETS) {
    throw apiError(
      "TOO_MANY_BUCKETS",
      `${buckets} buckets of ${options.stepS / 60} min in this range; at most ${MAX_BUCKETS}: ` +
        "choose a wider bucket or a shorter range",
    );
  }
  const limitS = options.access.historyLimitS;
  const fromMs = limitS === null
    ? range.fromMs
    : Math.max(range.fromMs, options.nowMs - limitS * 1000);
  return fromMs < range.toMs ? { fromMs, toMs: range.toMs } : null;
}

/** Demand buckets of one meter; refuses buckets finer than an app's grant. */
export function demandBuckets(
  db: Parameters<typeof demandSeries>[0],
  q: TimeRange & { meterKey: string; bucketMinutes: BucketMinutes; access: Access; nowMs: number },
): DemandBucket[] {
  const finestS = q.access.finestResolutionS;
  if (finestS !== null && q.bucketMinutes * 60 < finestS) {
    throw apiError(
      "FORBIDDEN",
      `this app may read demand no finer than every ${finestS / 60} min`,
    );
  }
  const range = checkedRange(q, { access: q.access, nowMs: q.nowMs, stepS: q.bucketMinutes * 60 });
  if (range === null) return [];
  return demandSeries(db, { meterKey: q.meterKey, bucketMinutes: q.bucketMinutes, ...range });
}

/**
 * Interval energy starting in the range, priced with the price in effect; at the meter's stored
 * interval length, or summed up to what an app's granted resolution allows (`servedIntervalS`).
 */
export function intervalReadings(
  db: Parameters<typeof demandSeries>[0],
  q: TimeRange & { meterKey: string; access: Access; nowMs: number },
): PricedReading[] {
  const nativeS = meterFeedFacts(db, q.meterKey)?.nativeIntervalS ?? null;
  // The same rule as the ESPI feed (`read_policy.ts`): 2100 s granted → 2400 s served.
  const intervalS = servedIntervalS(
    nativeS ?? DEFAULT_NATIVE_INTERVAL_S,
    q.access.finestResolutionS,
  );
  if (intervalS === null) {
    throw apiError(
      "FORBIDDEN",
      "no interval length this gateway serves is as coarse as this app's grant requires",
    );
  }
  const range = checkedRange(q, { access: q.access, nowMs: q.nowMs, stepS: intervalS });
  if (range === null || nativeS === null) return [];
  return pricedReadings(db, { meterKey: q.meterKey, nativeS, intervalS, ...range });
}

/** Stored intervals of `nativeS` starting in the range, summed into `intervalS`, priced. */
export function pricedReadings(
  db: Parameters<typeof demandSeries>[0],
  q: TimeRange & { meterKey: string; nativeS: number; intervalS: number },
): PricedReading[] {
  return pricedIntervals(db, q).map((row) => ({
    startMs: row.startMs,
    durationS: row.durationS,
    deliveredWh: row.deliveredWh,
    receivedWh: row.receivedWh,
    // Stored in hundred-thousandths of the currency (the ESPI cost unit).
    cost: row.costHundredThousandths === null ? null : row.costHundredThousandths / 100_000,
    currency: currencyName(row.currencyCode),
    quality: QUALITY_BY_CODE[row.qualityCode] ?? "questionable",
  }));
}

/** Energy, cost and peak over one period ending now (cut to an app's history). */
export function usageSummary(
  db: Parameters<typeof demandSeries>[0],
  q: { meterKey: string; period: UsagePeriod; access: Access; nowMs: number; timeZone: string },
): UsageSummary {
  const fromMs = q.period === "TODAY"
    ? localDayStartMs(q.timeZone, q.nowMs)
    : q.nowMs - (q.period === "LAST_24_HOURS" ? 24 : 48) * HOUR_MS;
  const limitS = q.access.historyLimitS;
  const range = {
    fromMs: limitS === null ? fromMs : Math.max(fromMs, q.nowMs - limitS * 1000),
    toMs: q.nowMs,
  };
  const nativeS = meterFeedFacts(db, q.meterKey)?.nativeIntervalS ?? null;
  const readings = nativeS === null
    ? []
    : pricedReadings(db, { meterKey: q.meterKey, nativeS, intervalS: nativeS, ...range });
  const peak = peakDemandW(db, { meterKey: q.meterKey, ...range });
  const priced = readings.filter((reading) => reading.cost !== null);
  const deliveredWh = sum(readings.map((reading) => reading.deliveredWh));
  return {
    period: q.period,
    ...range,
    deliveredWh,
    receivedWh: sum(readings.map((reading) => reading.receivedWh)),
    cost: priced.length === 0
      ? null
      : Math.round(sum(priced.map((reading) => reading.cost!)) * 1e5) / 1e5,
    currency: priced.at(-1)?.currency ?? null,
    unpricedWh: deliveredWh - sum(priced.map((reading) => reading.deliveredWh)),
    peakDemandW: peak?.demandW ?? null,
    peakAtMs: peak?.atMs ?? null,
  };
}

/** The alphabetic ISO 4217 code for a numeric one, or the number as text when not known. */
export function currencyName(code: number | null): string | null {
  return code === null ? null : currencyAlpha(code) ?? String(code);
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

function formatHours(ms: number): string {
  return `${Math.round(ms / HOUR_MS)} h`;
}
