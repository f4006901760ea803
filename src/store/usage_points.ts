/**
 * Opaque usage point ids: ESPI hrefs name meters by these, never by the meter's MAC address.
 * Each meter gets a random URL-safe id the first time it is asked for; the mapping is durable.
 *
 * @module
 */

import { randomBytes } from "node:crypto";
import { get, statement } from "./statements.ts";
import type { DatabaseSync } from "node:sqlite";

/** The opaque usage point id of a meter, created on first use. */
export function usagePointIdFor(db: DatabaseSync, meterKey: string): string {
  const existing = get<{ id: string }>(
    db,
    "SELECT usage_point_id AS id FROM usage_points WHERE meter_key = ?",
    meterKey,
  );
  if (existing !== undefined) return existing.id;
  const id = randomBytes(12).toString("base64url");
  // OR IGNORE + re-read: a concurrent first use by another connection wins and both agree.
  statement(db, "INSERT OR IGNORE INTO usage_points (meter_key, usage_point_id) VALUES (?, ?)")
    .run(meterKey, id);
  return (get<{ id: string }>(
    db,
    "SELECT usage_point_id AS id FROM usage_points WHERE meter_key = ?",
    meterKey,
  )!).id;
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
