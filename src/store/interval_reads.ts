/**
 * Energy reads at a chosen resolution, shared by the ESPI feed, GraphQL series and the CSV
 * download: interval energy aggregated to a width and priced with the price in effect, register
 * readings per interval, the facts that shape a meter's series, peak demand and demand averages.
 *
 * As in `queries.ts`, aggregation happens in SQL; ranges are half-open `[fromMs, toMs)`. Each
 * statement comes from the store's statement cache (compiling them was a visible part of the
 * feed's time).
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { DEMAND_SERIES_SQL } from "./queries.ts";
import { rollupWidthFor } from "./rollup.ts";
import { all, get, statement } from "./statements.ts";

/** One interval of the feed, possibly several stored intervals summed. */
export interface PricedInterval {
  startMs: number;
  durationS: number;
  deliveredWh: number;
  receivedWh: number;
  /** Worst stored quality code in the interval (`QUALITY_CODES`). */
  qualityCode: number;
  /**
   * Cost of the delivered energy in hundred-thousandths of the currency, from the price the meter
   * reported last before each stored interval began; null when any part had no price.
   */
  costHundredThousandths: number | null;
  /** ISO 4217 numeric code of that price, null when unpriced. */
  currencyCode: number | null;
}

/** Facts about one meter that shape its feed. */
export interface MeterFeedFacts {
  /** Length of the newest stored interval, seconds; null before any interval exists. */
  nativeIntervalS: number | null;
  /** The meter has recorded exported energy (a received channel is worth publishing). */
  exports: boolean;
  /** Currency of the newest price, null when no price was ever stored. */
  currencyCode: number | null;
  /** Start of the oldest and end of the newest stored interval. */
  oldestMs: number | null;
  newestMs: number | null;
  firstSeenMs: number;
  lastSeenMs: number;
}

/** A summation register value: the last reading inside each interval. */
export interface RegisterSample {
  intervalStartMs: number;
  tsMs: number;
  deliveredWh: number;
  receivedWh: number | null;
}

export function meterFeedFacts(db: DatabaseSync, meterKey: string): MeterFeedFacts | null {
  const meter = get<{ firstSeenMs: number; lastSeenMs: number }>(
    db,
    `SELECT first_seen_ms AS firstSeenMs, last_seen_ms AS lastSeenMs FROM meters
     WHERE meter_key = ?`,
    meterKey,
  );
  if (!meter) return null;
  const newest = get<{ durationS: number; endMs: number }>(
    db,
    `SELECT duration_s AS durationS, start_ms + duration_s * 1000 AS endMs FROM intervals
     WHERE meter_key = ? ORDER BY start_ms DESC LIMIT 1`,
    meterKey,
  );
  const oldest = get<{ startMs: number }>(
    db,
    `SELECT start_ms AS startMs FROM intervals WHERE meter_key = ? ORDER BY start_ms LIMIT 1`,
    meterKey,
  );
  const exports =
    statement(db, `SELECT 1 AS yes FROM intervals WHERE meter_key = ? AND received_wh > 0 LIMIT 1`)
      .get(meterKey) !== undefined;
  const price = get<{ currencyCode: number }>(
    db,
    `SELECT currency_code AS currencyCode FROM prices
     WHERE meter_key = ? AND currency_code IS NOT NULL ORDER BY ts_ms DESC LIMIT 1`,
    meterKey,
  );
  return {
    nativeIntervalS: newest?.durationS ?? null,
    exports,
    currencyCode: price?.currencyCode ?? null,
    oldestMs: oldest?.startMs ?? null,
    newestMs: newest?.endMs ?? null,
    firstSeenMs: meter.firstSeenMs,
    lastSeenMs: meter.lastSeenMs,
  };
}

/**
 * Stored intervals of length `nativeS` starting in the range, summed into `intervalS` buckets
 * (a multiple of `nativeS`). node:sqlite binds numbers as REAL, hence the CASTs.
 */
export const PRICED_INTERVALS_SQL = `
  WITH stored AS (
    SELECT i.start_ms, i.delivered_wh, i.received_wh, i.quality,
      (SELECT p.ts_ms FROM prices p
       WHERE p.meter_key = i.meter_key AND p.ts_ms <= i.start_ms
       ORDER BY p.ts_ms DESC LIMIT 1) AS price_ts
    FROM intervals i
    WHERE i.meter_key = :meterKey AND i.duration_s = :nativeS
      AND i.start_ms >= :fromMs AND i.start_ms < :toMs
  )
  SELECT (s.start_ms / CAST(:bucketMs AS INTEGER)) * CAST(:bucketMs AS INTEGER) AS startMs,
    count(*) AS n, sum(s.delivered_wh) AS deliveredWh, sum(s.received_wh) AS receivedWh,
    max(s.quality) AS qualityCode, sum(s.delivered_wh * p.price_per_kwh) AS whTimesPrice,
    count(p.price_per_kwh) AS priced, max(p.currency_code) AS currencyCode
  FROM stored s LEFT JOIN prices p ON p.meter_key = :meterKey AND p.ts_ms = s.price_ts
  GROUP BY startMs ORDER BY startMs`;

/**
 * Priced interval energy in `intervalS` buckets. Buckets not fully covered by stored intervals
 * are left out (the newest, still filling, and any cut by the range), so an aggregate never
 * passes for a whole interval when it is a part of one.
 */
export function pricedIntervals(
  db: DatabaseSync,
  q: { meterKey: string; fromMs: number; toMs: number; nativeS: number; intervalS: number },
): PricedInterval[] {
  const rows = all<{
    startMs: number;
    n: number;
    deliveredWh: number;
    receivedWh: number;
    qualityCode: number;
    whTimesPrice: number | null;
    priced: number;
    currencyCode: number | null;
  }>(db, PRICED_INTERVALS_SQL, {
    meterKey: q.meterKey,
    nativeS: q.nativeS,
    bucketMs: q.intervalS * 1000,
    fromMs: Math.floor(q.fromMs),
    toMs: Math.ceil(q.toMs),
  });
  const perBucket = q.intervalS / q.nativeS;
  const intervals: PricedInterval[] = [];
  for (const row of rows) {
    if (row.n < perBucket) continue;
    const priced = row.priced === row.n && row.whTimesPrice !== null;
    intervals.push({
      startMs: row.startMs,
      durationS: q.intervalS,
      deliveredWh: row.deliveredWh,
      receivedWh: row.receivedWh,
      qualityCode: row.qualityCode,
      // Wh × (currency/kWh) / 1000 × 100 000 = Wh × price × 100.
      costHundredThousandths: priced ? Math.round(row.whTimesPrice! * 100) : null,
      currencyCode: priced ? row.currencyCode : null,
    });
  }
  return intervals;
}

/** The last summation reading inside each `intervalS` bucket of the range. */
export function registerSamples(
  db: DatabaseSync,
  q: { meterKey: string; fromMs: number; toMs: number; intervalS: number },
): RegisterSample[] {
  // SQLite returns the bare columns of the row that holds max(ts_ms).
  const rows = all<RegisterSample>(
    db,
    `SELECT (ts_ms / CAST(:bucketMs AS INTEGER)) * CAST(:bucketMs AS INTEGER) AS intervalStartMs,
       max(ts_ms) AS tsMs, delivered_wh AS deliveredWh, received_wh AS receivedWh
     FROM summation
     WHERE meter_key = :meterKey AND ts_ms >= :fromMs AND ts_ms < :toMs
     GROUP BY intervalStartMs ORDER BY intervalStartMs`,
    {
      meterKey: q.meterKey,
      bucketMs: q.intervalS * 1000,
      fromMs: Math.floor(q.fromMs),
      toMs: Math.ceil(q.toMs),
    },
  );
  return rows.map((row) => ({ ...row }));
}

/** Highest demand sample in the range (from the 1-minute rollup), W; null without samples. */
export function peakDemandW(
  db: DatabaseSync,
  q: { meterKey: string; fromMs: number; toMs: number },
): { demandW: number; atMs: number } | null {
  const row = get<{
    demandW: number | null;
    atMs: number | null;
  }>(
    db,
    `SELECT max(max_w) AS demandW, bucket_ms AS atMs FROM demand_rollup
     WHERE meter_key = :meterKey AND bucket_min = 1 AND bucket_ms >= :fromMs AND bucket_ms < :toMs`,
    { meterKey: q.meterKey, fromMs: Math.floor(q.fromMs), toMs: Math.ceil(q.toMs) },
  )!;
  return row.demandW === null || row.atMs === null
    ? null
    : { demandW: row.demandW, atMs: row.atMs };
}

/** A demand average per feed interval (from the rollup, as `demandSeries` but any width). */
export interface DemandAverage {
  bucketStartMs: number;
  avgW: number;
}

/** Average demand in `intervalS` buckets, from the widest rollup width that divides them. */
export function demandAverages(
  db: DatabaseSync,
  q: { meterKey: string; fromMs: number; toMs: number; intervalS: number },
): DemandAverage[] {
  const bucketMs = q.intervalS * 1000;
  const rows = all<DemandAverage>(db, DEMAND_SERIES_SQL, {
    meterKey: q.meterKey,
    width: rollupWidthFor(q.intervalS / 60),
    bucketMs,
    fromMs: Math.ceil(q.fromMs / bucketMs) * bucketMs,
    toMs: Math.ceil(q.toMs),
  });
  return rows.map((row) => ({ bucketStartMs: row.bucketStartMs, avgW: row.avgW }));
}
