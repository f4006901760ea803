/**
 * Meters as the API shows them: named by their opaque usage point id (never the MAC), filtered
 * to what the caller may read, with each kind of latest reading fetched once per meter and request.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import {
  latestReaders,
  type LatestReadings,
  listMeters,
  type MeterSummary,
} from "../store/queries.ts";
import { meterKeyForUsagePoint, usagePointIdFor } from "../store/usage_points.ts";
import type { Access } from "./access.ts";
import { apiError } from "./errors.ts";

/** One meter in a request: its summary, and its latest reading of each kind read on first use. */
export interface MeterModel {
  id: string;
  meterKey: string;
  summary: MeterSummary;
  latest<Kind extends keyof LatestReadings>(kind: Kind): LatestReadings[Kind];
}

/** True when the caller may read the meter with this opaque id. */
export function canRead(access: Access, meterId: string): boolean {
  return access.meterIds === null || access.meterIds.has(meterId);
}

/** Every meter the caller may read, by meter key. */
export function visibleMeters(db: DatabaseSync, access: Access): MeterModel[] {
  return listMeters(db)
    .map((summary) => meterModel(db, summary, usagePointIdFor(db, summary.meterKey)))
    .filter((meter) => canRead(access, meter.id));
}

/** The meter with this opaque id; `NOT_FOUND` when unknown or not granted (indistinguishably). */
export function meterById(db: DatabaseSync, access: Access, meterId: string): MeterModel {
  const meterKey = canRead(access, meterId) ? meterKeyForUsagePoint(db, meterId) : null;
  const summary = meterKey === null
    ? undefined
    : listMeters(db).find((meter) => meter.meterKey === meterKey);
  if (summary === undefined) throw apiError("NOT_FOUND", `no meter with id ${meterId}`);
  return meterModel(db, summary, meterId);
}

/** The meter key behind an opaque id the caller may read; `NOT_FOUND` otherwise. */
export function meterKeyFor(db: DatabaseSync, access: Access, meterId: string): string {
  const meterKey = canRead(access, meterId) ? meterKeyForUsagePoint(db, meterId) : null;
  if (meterKey === null) throw apiError("NOT_FOUND", `no meter with id ${meterId}`);
  return meterKey;
}

function meterModel(db: DatabaseSync, summary: MeterSummary, id: string): MeterModel {
  // Only the kinds the query selects are read, each once per request.
  const latest = new Map<keyof LatestReadings, unknown>();
  return {
    id,
    meterKey: summary.meterKey,
    summary,
    latest: <Kind extends keyof LatestReadings>(kind: Kind) => {
      if (!latest.has(kind)) latest.set(kind, latestReaders[kind](db, summary.meterKey));
      return latest.get(kind) as LatestReadings[Kind];
    },
  };
}
