/**
 * Opaque usage point ids: ESPI hrefs name meters by these, never by the meter's MAC address.
 * Each meter gets a random URL-safe id when the ingest path first stores it; the mapping is durable.
 *
 * @module
 */

import { randomBytes } from "node:crypto";
import { get } from "./statements.ts";
import type { DatabaseSync } from "node:sqlite";

/**
 * A fresh random URL-safe usage point id (the ingest path assigns one to each new meter). It
 * never starts with `-`: a spreadsheet would read such an id in a CSV download as a formula
 * (so the download defuses it, and it no longer matches the API's id), and a shell as an option.
 */
export function newUsagePointId(): string {
  for (;;) {
    const id = randomBytes(12).toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}

/**
 * The opaque usage point id of a meter; null when the meter was never stored. A pure read: ids
 * are assigned when the ingest path first stores the meter (and by migration 8 for meters stored
 * before).
 */
export function findUsagePointId(db: DatabaseSync, meterKey: string): string | null {
  let known = assigned.get(db);
  const id = known?.get(meterKey);
  if (id !== undefined) return id;
  const row = get<{ id: string }>(
    db,
    "SELECT usage_point_id AS id FROM usage_points WHERE meter_key = ?",
    meterKey,
  );
  if (row === undefined) return null;
  if (known === undefined) assigned.set(db, known = new Map());
  known.set(meterKey, row.id);
  return row.id;
}

/**
 * Ids already read, per database: an id never changes once handed out and meters are never
 * deleted, so every request naming a meter need not read it again.
 */
const assigned = new WeakMap<DatabaseSync, Map<string, string>>();

/**
 * The opaque usage point id of a stored meter. Every caller names a meter it read from the store
 * (or an event the store committed for it), so a meter without one is a bug, not a case to paper
 * over with a new row.
 */
export function usagePointIdFor(db: DatabaseSync, meterKey: string): string {
  const id = findUsagePointId(db, meterKey);
  if (id === null) throw new Error(`meter ${meterKey} has no usage point: it was never stored`);
  return id;
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
