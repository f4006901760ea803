/**
 * The spreadsheet download: the last 48 hours as CSV, for the owner, next to Download My Data.
 *
 * Two files, because a spreadsheet wants one table with one set of columns per sheet:
 *
 * - `GET /download/intervals.csv` — interval energy as the meter's register gives it, with its
 *   cost at the price in effect: `meter_id, meter_name, start_utc, end_utc, start_local,
 *   duration_s, delivered_wh, received_wh, cost, currency, quality`;
 * - `GET /download/demand.csv` — demand per minute: `meter_id, meter_name, minute_start_utc,
 *   minute_start_local, avg_demand_w, min_demand_w, max_demand_w, samples`.
 *
 * Access is Download My Data's decision (`requireOwnData` in `src/espi/access.ts`): the owner's
 * session only; no session is a 401 with the same challenge, and an app's token is refused as it
 * is there. `?meter=<id>` (the usage-point id the APIs use) narrows the file to one meter; an id
 * that is not one of the owner's meters is a 404, any other query parameter a 400.
 *
 * UTC times are ISO 8601 (`2026-12-03T10:05:00Z`); local times are the gateway's `--time-zone`
 * wall clock as `YYYY-MM-DD HH:MM:SS`, which spreadsheets read as a date and time. The window is
 * fixed to the 48 hours before the request, so a file has at most 2 880 rows per meter.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { resolveCaller } from "../auth/resolve.ts";
import { requireOwnData } from "../espi/access.ts";
import { utcOffsetS } from "../espi/local_time.ts";
import { csvDocument, type CsvField } from "../export/csv.ts";
import { HttpError, httpErrorResponse } from "../http/errors.ts";
import type { Route } from "../http/routes.ts";
import { meterFeedFacts, pricedIntervals } from "../store/interval_reads.ts";
import { QUALITY_CODES } from "../store/migrations.ts";
import { demandSeries, listMeters, priceCurrencyNames } from "../store/queries.ts";
import { usagePointIdFor } from "../store/usage_points.ts";

/** How far back a download reaches: the ring's 48 hours. */
export const SPREADSHEET_WINDOW_MS = 48 * 3_600_000;

const INTERVAL_COLUMNS = [
  "meter_id",
  "meter_name",
  "start_utc",
  "end_utc",
  "start_local",
  "duration_s",
  "delivered_wh",
  "received_wh",
  "cost",
  "currency",
  "quality",
] as const;

const DEMAND_COLUMNS = [
  "meter_id",
  "meter_name",
  "minute_start_utc",
  "minute_start_local",
  "avg_demand_w",
  "min_demand_w",
  "max_demand_w",
  "samples",
] as const;

const QUALITY_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(QUALITY_CODES).map(([name, code]) => [code, name]),
);

/** A meter in the download: its key, the id the APIs show, the owner's name for it. */
interface DownloadMeter {
  meterKey: string;
  meterId: string;
  name: string | null;
}

interface Window {
  fromMs: number;
  toMs: number;
  timeZone: string;
}

type RowsOf = (db: DatabaseSync, meter: DownloadMeter, window: Window) => CsvField[][];

function intervalRows(db: DatabaseSync, meter: DownloadMeter, window: Window): CsvField[][] {
  const nativeS = meterFeedFacts(db, meter.meterKey)?.nativeIntervalS ?? null;
  if (nativeS === null) return [];
  const { fromMs, toMs } = window;
  const currencies = priceCurrencyNames(db, meter.meterKey);
  return pricedIntervals(db, {
    meterKey: meter.meterKey,
    fromMs,
    toMs,
    nativeS,
    intervalS: nativeS,
  })
    .map((row) => [
      meter.meterId,
      meter.name,
      utcText(row.startMs),
      utcText(row.startMs + row.durationS * 1000),
      localText(row.startMs, window.timeZone),
      row.durationS,
      row.deliveredWh,
      row.receivedWh,
      row.costHundredThousandths === null ? null : row.costHundredThousandths / 100_000,
      row.currencyCode === null
        ? null
        : currencies.get(row.currencyCode) ?? String(row.currencyCode),
      QUALITY_NAMES[row.qualityCode] ?? "questionable",
    ]);
}

function demandRows(db: DatabaseSync, meter: DownloadMeter, window: Window): CsvField[][] {
  const { fromMs, toMs } = window;
  return demandSeries(db, { meterKey: meter.meterKey, fromMs, toMs, bucketMinutes: 1 })
    .map((bucket) => [
      meter.meterId,
      meter.name,
      utcText(bucket.bucketStartMs),
      localText(bucket.bucketStartMs, window.timeZone),
      // The store keeps whole watts; an average to the tenth is as precise as the meter.
      Math.round(bucket.avgW * 10) / 10,
      bucket.minW,
      bucket.maxW,
      bucket.samples,
    ]);
}

/** `2026-12-03T10:05:00Z`: ISO 8601 in UTC, to the second. */
function utcText(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19) + "Z";
}

/** `2026-12-03 11:05:00`: the wall clock of `timeZone`. */
function localText(ms: number, timeZone: string): string {
  return new Date(ms + utcOffsetS(timeZone, ms) * 1000).toISOString().slice(0, 19).replace(
    "T",
    " ",
  );
}

/** The one query parameter: `meter`, once, shaped like a usage-point id; null when absent. */
function meterParam(url: URL): string | null {
  const keys = [...url.searchParams.keys()];
  const unknown = keys.find((key) => key !== "meter");
  if (unknown !== undefined) {
    throw new HttpError(
      400,
      "invalid_request",
      `unknown query parameter '${unknown.slice(0, 40)}'`,
    );
  }
  const values = url.searchParams.getAll("meter");
  if (values.length === 0) return null;
  if (values.length > 1) throw new HttpError(400, "invalid_request", "meter is given twice");
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(values[0])) {
    throw new HttpError(400, "invalid_request", "meter must be a meter id");
  }
  return values[0];
}

function downloadRoute(
  path: string,
  columns: readonly string[],
  rowsOf: RowsOf,
  fileName: string,
): Route {
  return {
    method: "GET",
    path,
    handler: (request, context) => {
      const { db, timeZone } = context.services;
      try {
        // Download My Data's rule, the same function: the owner's session and nothing else.
        const scope = requireOwnData(db, resolveCaller(request, context.services));
        const wanted = meterParam(context.url);
        const meters: DownloadMeter[] = listMeters(db)
          .map((meter) => ({
            meterKey: meter.meterKey,
            meterId: usagePointIdFor(db, meter.meterKey),
            name: meter.name ?? null,
          }))
          .filter((meter) =>
            scope.usagePointIds.includes(meter.meterId) &&
            (wanted === null || meter.meterId === wanted)
          );
        if (wanted !== null && meters.length === 0) {
          throw new HttpError(404, "not_found", "no such meter");
        }
        const nowMs = context.services.nowMs();
        const window = { fromMs: nowMs - SPREADSHEET_WINDOW_MS, toMs: nowMs, timeZone };
        const rows = meters.flatMap((meter) => rowsOf(db, meter, window));
        return new Response(csvDocument(columns, rows), {
          headers: {
            "Content-Type": "text/csv; charset=utf-8; header=present",
            "Content-Disposition": `attachment; filename="${fileName}"`,
            // The household's own readings: no shared cache keeps a copy.
            "Cache-Control": "no-store",
          },
        });
      } catch (error) {
        if (error instanceof HttpError) return httpErrorResponse(error);
        throw error;
      }
    },
  };
}

/** The two downloads. */
export const spreadsheetRoutes: Route[] = [
  downloadRoute("/download/intervals.csv", INTERVAL_COLUMNS, intervalRows, "openseg-intervals.csv"),
  downloadRoute("/download/demand.csv", DEMAND_COLUMNS, demandRows, "openseg-demand.csv"),
];
