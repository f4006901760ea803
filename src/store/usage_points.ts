/**
 * Opaque usage point ids: ESPI hrefs name meters by these, never by the meter's MAC address.
 * Each meter gets a random URL-safe id when the ingest path first stores it; the mapping is durable.
 *
 * @module
 */

import { randomBytes } from "node:crypto";
import { get } from "./statements.ts";
import type { DatabaseSync } from "node:sqlite";

/** A fresh random URL-safe usage point id (the ingest path assigns one to each new meter). */
export function newUsagePointId(): string {
  return randomBytes(12).toString("base64url");
}

/**
 * The opaque usage point id of a stored meter. A pure read: ids are assigned when the ingest path
 * first stores the meter (and by migration 8 for meters stored before), so a meter without one
 * was never stored, and naming it anywhere is a bug, not a case to paper over with a new row.
 */
export function usagePointIdFor(db: DatabaseSync, meterKey: string): string {
  const row = get<{ id: string }>(
    db,
    "SELECT usage_point_id AS id FROM usage_points WHERE meter_key = ?",
    meterKey,
  );
  if (row === undefined) {
    throw new Error(`meter ${meterKey} has no usage point: it was never stored`);
  }
  return row.id;
}

/** The meter behind an opaque usage point id, or null when unknown. */
export function meterKeyForUsagePoint(db: DatabaseSync, usagePointId: string): string | null {
  const row = get<{ meterKey: string }>(
    db,
    "SELECT meter_key AS meterKey FROM usage_points WHERE usage_point_id = ?",
    usagePointId,
  );
  return row?.meterKey ?? null;
}
