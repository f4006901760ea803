/**
 * Reads for the APIs and the dashboard. Aggregation happens in SQL: moving rows into JavaScript is
 * the slow part of `node:sqlite`, so series come from the rollup and interval tables, never from
 * the raw samples.
 *
 * Time ranges are half-open `[fromMs, toMs)` in meter time; a bucket or interval is included when
 * it overlaps the range. Empty buckets are left out rather than filled.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { all, arrayStatement, get, statement } from "./statements.ts";
import type { LinkState, PriceFields } from "../radio/events.ts";
import type { IntervalQuality } from "./intervals.ts";
import { QUALITY_CODES } from "./migrations.ts";
import { rollupWidthFor } from "./rollup.ts";

export type BucketMinutes = 1 | 5 | 15 | 60;

/** Row counts of one meter's ring tables. */
export interface MeterRowCounts {
  demand: number;
  summation: number;
  intervals: number;
  prices: number;
  messages: number;
  demandRollup: number;
}

/** Health of one meter's cache, for the status page. */
export interface MeterStatus {
  meterKey: string;
  port: string;
  deviceMac: string | null;
  /**
   * Last four hex digits of the radio's install code, to match the radio's label (which has the
   * whole code the utility asks for); null before the radio reported one.
   */
  installCodeLast4: string | null;
  rows: MeterRowCounts;
  /** Oldest/newest meter time over demand, summation and prices; null when none are stored. */
  oldestMs: number | null;
  newestMs: number | null;
  /** Gateway time the meter was last heard from, and how long ago that was at `nowMs`. */
  lastSeenMs: number;
  lastSeenAgeMs: number;
  /** Last link state of the meter's port, null when never recorded. */
  link: { state: LinkState; atMs: number; detail: string | null } | null;
  /** Last join/connection state the radio reported for this meter. */
  join: { status: string; connected: boolean; receivedAtMs: number } | null;
  /** Persistent warning counters of this meter plus its port's meter-less ones, by kind. */
  warnings: Record<string, number>;
}

export interface DemandBucket {
  bucketStartMs: number;
  avgW: number;
  minW: number;
  maxW: number;
  samples: number;
}

export interface IntervalReading {
  startMs: number;
  durationS: number;
  deliveredWh: number;
  receivedWh: number;
  quality: IntervalQuality;
}

export interface MeterSummary {
  meterKey: string;
  port: string;
  deviceMac: string | null;
  firstSeenMs: number;
  lastSeenMs: number;
  name?: string;
}

/** Timestamps common to the latest-reading entries. */
interface Timed {
  timeMs: number;
  receivedAtMs: number;
}

export interface StoredMessage extends Timed {
  messageId: string;
  text: string;
  confirmationRequired: boolean;
  confirmed: boolean;
  queue: string | null;
  priority: string | null;
  startTimeMs: number | null;
  durationS: number | null;
}

/** What a dashboard shows for one meter; absent fields were never received (or aged out). */
export interface LatestReadings {
  demand?: Timed & { demandW: number | null };
  summation?: Timed & { deliveredWh: number; receivedWh: number | null };
  price?: Timed & PriceFields;
  /** Messages in retention, newest first. */
  messages: StoredMessage[];
  connection?: Timed & {
    status: string;
    connected: boolean;
    description: string | null;
    linkStrengthPercent: number | null;
    channel: number | null;
  };
  /** Latest event of each other kind (`time`, `schedule:<event>`, `periodUsage:<period>`, …). */
  other: Record<string, Timed & { event: unknown }>;
}

const QUALITY_NAMES = Object.fromEntries(
  Object.entries(QUALITY_CODES).map(([name, code]) => [code, name]),
) as Record<number, IntervalQuality>;

/** Per-meter cache health. `nowMs` (default: now) only feeds `lastSeenAgeMs`. */
export function storeStatus(db: DatabaseSync, options: { nowMs?: number } = {}): MeterStatus[] {
  const nowMs = options.nowMs ?? Date.now();
  const count = (table: string) =>
    statement(db, `SELECT count(*) AS n FROM ${table} WHERE meter_key = ?`);
  const counts = {
    demand: count("demand"),
    summation: count("summation"),
    intervals: count("intervals"),
    prices: count("prices"),
    messages: count("messages"),
    demandRollup: count("demand_rollup"),
  };
  const span = statement(
    db,
    `SELECT min(lo) AS oldestMs, max(hi) AS newestMs FROM (
       SELECT min(ts_ms) AS lo, max(ts_ms) AS hi FROM demand WHERE meter_key = :m
       UNION ALL SELECT min(ts_ms), max(ts_ms) FROM summation WHERE meter_key = :m
       UNION ALL SELECT min(ts_ms), max(ts_ms) FROM prices WHERE meter_key = :m)`,
  );
  const link = statement(
    db,
    `SELECT link_state AS state, link_at_ms AS atMs, link_detail AS detail
     FROM ports WHERE port = ? AND link_state IS NOT NULL`,
  );
  const join = statement(
    db,
    `SELECT status, connected, received_ms AS receivedAtMs FROM join_state WHERE meter_key = ?`,
  );
  const warnings = statement(
    db,
    `SELECT kind, sum(count) AS n FROM warnings
     WHERE meter_key = :m OR (meter_key = '' AND port = :p) GROUP BY kind ORDER BY kind`,
  );
  const device = statement(
    db,
    "SELECT install_code_last4 AS installCodeLast4 FROM devices WHERE device_mac = ?",
  );
  return listMeters(db).map((meter): MeterStatus => {
    const rows = Object.fromEntries(
      Object.entries(counts).map(([kind, statement]) => [
        kind,
        (statement.get(meter.meterKey) as { n: number }).n,
      ]),
    ) as unknown as MeterRowCounts;
    const times = span.get({ m: meter.meterKey }) as {
      oldestMs: number | null;
      newestMs: number | null;
    };
    const linkRow = link.get(meter.port) as MeterStatus["link"] | undefined;
    const joinRow = join.get(meter.meterKey) as
      | { status: string; connected: number; receivedAtMs: number }
      | undefined;
    const warningRows = warnings.all({ m: meter.meterKey, p: meter.port }) as {
      kind: string;
      n: number;
    }[];
    const deviceRow = meter.deviceMac === null
      ? undefined
      : device.get(meter.deviceMac) as { installCodeLast4: string | null } | undefined;
    return {
      meterKey: meter.meterKey,
      port: meter.port,
      deviceMac: meter.deviceMac,
      installCodeLast4: deviceRow?.installCodeLast4 ?? null,
      rows,
      oldestMs: times.oldestMs,
      newestMs: times.newestMs,
      lastSeenMs: meter.lastSeenMs,
      lastSeenAgeMs: nowMs - meter.lastSeenMs,
      link: linkRow ? plain(linkRow) : null,
      join: joinRow ? { ...joinRow, connected: joinRow.connected === 1 } : null,
      warnings: Object.fromEntries(warningRows.map((row) => [row.kind, row.n])),
    };
  });
}

/**
 * The demand series query: rollup cells of one width grouped into buckets. node:sqlite binds every
 * JS number as REAL, so the CASTs keep the bucket division an integer one. Exported for the
 * query-plan test.
 */
export const DEMAND_SERIES_SQL = `
  SELECT (bucket_ms / CAST(:bucketMs AS INTEGER)) * CAST(:bucketMs AS INTEGER) AS bucketStartMs,
    sum(sum_w) / sum(n) AS avgW, min(min_w) AS minW, max(max_w) AS maxW, sum(n) AS samples
  FROM demand_rollup
  WHERE meter_key = :meterKey AND bucket_min = :width AND bucket_ms >= :fromMs
    AND bucket_ms < :toMs
  GROUP BY bucketStartMs ORDER BY bucketStartMs`;

/**
 * The demand series when the buckets are as wide as the rollup cells (15 min from 15-minute cells,
 * 1 min from 1-minute cells): one cell per bucket, read in key order with no grouping (the GROUP BY
 * of `DEMAND_SERIES_SQL` sorts through a temporary B-tree, most of that query's time).
 */
const DEMAND_CELLS_SQL = `
  SELECT bucket_ms, sum_w / n, min_w, max_w, n
  FROM demand_rollup
  WHERE meter_key = :meterKey AND bucket_min = :width AND bucket_ms >= :fromMs
    AND bucket_ms < :toMs
  ORDER BY bucket_ms`;

/**
 * Demand in `bucketMinutes` buckets, from the rollup table only (1-minute cells for 1/5-minute
 * buckets, 15-minute cells for 15/60-minute buckets). Samples the meter marked invalid are not
 * counted. This is the hot path of the API's demand series: the statements are prepared once per
 * database and the rows come as arrays.
 */
export function demandSeries(
  db: DatabaseSync,
  q: { meterKey: string; fromMs: number; toMs: number; bucketMinutes: BucketMinutes },
): DemandBucket[] {
  if (![1, 5, 15, 60].includes(q.bucketMinutes)) {
    throw new RangeError(`bucketMinutes must be 1, 5, 15 or 60, got ${q.bucketMinutes}`);
  }
  const bucketMs = q.bucketMinutes * 60_000;
  const width = rollupWidthFor(q.bucketMinutes);
  // Align the start to a whole bucket so the first bucket is complete.
  const fromMs = Math.floor(q.fromMs / bucketMs) * bucketMs;
  const toMs = Math.ceil(q.toMs);
  // Rows as arrays, not objects with a null prototype: they are turned into buckets right away.
  const rows =
    (width === q.bucketMinutes
      ? arrayStatement(db, DEMAND_CELLS_SQL).all({ meterKey: q.meterKey, width, fromMs, toMs })
      : arrayStatement(db, DEMAND_SERIES_SQL).all({
        meterKey: q.meterKey,
        width,
        bucketMs,
        fromMs,
        toMs,
      })) as unknown[];
  const buckets: DemandBucket[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as [number, number, number, number, number];
    buckets[i] = {
      bucketStartMs: row[0],
      avgW: row[1],
      minW: row[2],
      maxW: row[3],
      samples: row[4],
    };
  }
  return buckets;
}

/** Interval energy rows overlapping the range, oldest first. */
export function intervalSeries(
  db: DatabaseSync,
  q: { meterKey: string; fromMs: number; toMs: number },
): IntervalReading[] {
  const rows = all<Omit<IntervalReading, "quality"> & { quality: number }>(
    db,
    `SELECT start_ms AS startMs, duration_s AS durationS, delivered_wh AS deliveredWh,
       received_wh AS receivedWh, quality
     FROM intervals
     WHERE meter_key = :meterKey AND start_ms > :earliestMs AND start_ms < :toMs
       AND start_ms + duration_s * 1000 > :fromMs
     ORDER BY start_ms, duration_s`,
    {
      meterKey: q.meterKey,
      // Bounds the key range: no interval is longer than an hour.
      earliestMs: Math.floor(q.fromMs) - 3_600_000,
      fromMs: Math.floor(q.fromMs),
      toMs: Math.ceil(q.toMs),
    },
  );
  return rows.map((row) => ({ ...row, quality: QUALITY_NAMES[row.quality] ?? "questionable" }));
}

/** A stored message as SQLite returns it: the flags are 0/1. */
type StoredMessageRow = Omit<StoredMessage, "confirmationRequired" | "confirmed"> & {
  confirmationRequired: number;
  confirmed: number;
};

/**
 * The newest reading of each kind, one query per kind: a request asking only for demand (the
 * common API query) runs one lookup instead of six.
 */
export const latestReaders: {
  [Kind in keyof LatestReadings]-?: (
    db: DatabaseSync,
    meterKey: string,
  ) => LatestReadings[Kind];
} = {
  demand: (db, meterKey) =>
    plainOrUndefined(get<NonNullable<LatestReadings["demand"]>>(
      db,
      `SELECT ts_ms AS timeMs, received_ms AS receivedAtMs, demand_w AS demandW
       FROM demand WHERE meter_key = ? ORDER BY ts_ms DESC LIMIT 1`,
      meterKey,
    )),
  summation: (db, meterKey) =>
    plainOrUndefined(get<NonNullable<LatestReadings["summation"]>>(
      db,
      `SELECT ts_ms AS timeMs, received_ms AS receivedAtMs, delivered_wh AS deliveredWh,
         received_wh AS receivedWh
       FROM summation WHERE meter_key = ? ORDER BY ts_ms DESC LIMIT 1`,
      meterKey,
    )),
  price: (db, meterKey) =>
    plainOrUndefined(get<NonNullable<LatestReadings["price"]>>(
      db,
      `SELECT ts_ms AS timeMs, received_ms AS receivedAtMs, price_per_kwh AS pricePerKWh,
         currency_code AS currencyCode, currency, tier, label, start_time_ms AS startTimeMs,
         duration_s AS durationS
       FROM prices WHERE meter_key = ? ORDER BY ts_ms DESC LIMIT 1`,
      meterKey,
    )),
  messages: (db, meterKey) =>
    all<StoredMessageRow>(
      db,
      `SELECT message_id AS messageId, text, confirmation_required AS confirmationRequired,
         confirmed, queue, priority, start_time_ms AS startTimeMs, duration_s AS durationS,
         ts_ms AS timeMs, received_ms AS receivedAtMs
       FROM messages WHERE meter_key = ? ORDER BY ts_ms DESC, message_id`,
      meterKey,
    ).map((message) => ({
      ...message,
      confirmationRequired: message.confirmationRequired === 1,
      confirmed: message.confirmed === 1,
    })),
  connection: (db, meterKey) => {
    const connection = get<
      Omit<NonNullable<LatestReadings["connection"]>, "connected"> & { connected: number }
    >(
      db,
      `SELECT ts_ms AS timeMs, received_ms AS receivedAtMs, status, connected, description,
         link_strength_percent AS linkStrengthPercent, channel
       FROM join_state WHERE meter_key = ?`,
      meterKey,
    );
    return connection && { ...connection, connected: connection.connected === 1 };
  },
  other: (db, meterKey) => {
    const other: LatestReadings["other"] = {};
    const rows = all<{ kind: string; timeMs: number; receivedAtMs: number; json: string }>(
      db,
      `SELECT kind, ts_ms AS timeMs, received_ms AS receivedAtMs, event_json AS json
       FROM latest_state WHERE meter_key = ? ORDER BY kind`,
      meterKey,
    );
    for (const { kind, timeMs, receivedAtMs, json } of rows) {
      other[kind] = { timeMs, receivedAtMs, event: JSON.parse(json) };
    }
    return other;
  },
};

/** The newest value of everything stored for one meter. */
export function latestReadings(db: DatabaseSync, meterKey: string): LatestReadings {
  const latest: LatestReadings = {
    messages: latestReaders.messages(db, meterKey),
    other: latestReaders.other(db, meterKey),
  };
  for (const kind of ["demand", "summation", "price", "connection"] as const) {
    const reading = latestReaders[kind](db, meterKey);
    // Absent kinds stay absent (not `undefined` keys): MQTT and tests compare whole objects.
    if (reading !== undefined) Object.assign(latest, { [kind]: reading });
  }
  return latest;
}

/** Every meter ever seen (the `meters` table is durable), by meter key. */
export function listMeters(db: DatabaseSync): MeterSummary[] {
  const rows = all<MeterSummary & { name: string | null }>(
    db,
    `SELECT meter_key AS meterKey, port, device_mac AS deviceMac, first_seen_ms AS firstSeenMs,
       last_seen_ms AS lastSeenMs, name
     FROM meters ORDER BY meter_key`,
  );
  return rows.map(({ name, ...meter }) => name === null ? meter : { ...meter, name });
}

/** node:sqlite rows have a null prototype; callers get ordinary objects. */
function plain<T extends object>(row: T): T {
  return { ...row };
}

function plainOrUndefined<T extends object>(row: T | undefined): T | undefined {
  return row === undefined ? undefined : plain(row);
}

/**
 * The currency names a meter's prices came with, by ISO 4217 numeric code (priced intervals carry
 * only the code).
 */
export function priceCurrencyNames(db: DatabaseSync, meterKey: string): Map<number, string> {
  const rows = all<{ code: number; name: string }>(
    db,
    `SELECT currency_code AS code, max(currency) AS name FROM prices
     WHERE meter_key = ? AND currency_code IS NOT NULL AND currency IS NOT NULL
     GROUP BY currency_code`,
    meterKey,
  );
  return new Map(rows.map((row) => [row.code, row.name]));
}

/** When anything was last received from each meter, in the order the meters were first seen. */
export function meterLastSeenMs(db: DatabaseSync): number[] {
  return all<{ lastSeenMs: number }>(
    db,
    "SELECT last_seen_ms AS lastSeenMs FROM meters ORDER BY first_seen_ms, meter_key",
  ).map((row) => row.lastSeenMs);
}
