/**
 * Meters as the administrator hands them out: each stored meter with its name, usage point id and
 * the household that owns it (by `meterOwnership`'s rule), and the lookup that turns what a person
 * types — a meter key (the meter's MAC), a usage point id or a meter name — into one meter.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { meterOwnership } from "./households.ts";
import { listMeters } from "./queries.ts";

/** A stored meter with its name and owner (null: assigned to no one). */
export interface ManagedMeter {
  /** The meter's MAC, e.g. `0x00135003000a1b2c`. */
  meterKey: string;
  name: string | null;
  usagePointId: string;
  householdId: number | null;
}

/** Every stored meter, by meter key. */
export function listManagedMeters(db: DatabaseSync): ManagedMeter[] {
  const names = new Map(listMeters(db).map((meter) => [meter.meterKey, meter.name ?? null]));
  return meterOwnership(db).map((meter) => ({
    meterKey: meter.meterKey,
    name: names.get(meter.meterKey) ?? null,
    usagePointId: meter.usagePointId,
    householdId: meter.householdId,
  }));
}

/**
 * The meter `reference` names: its meter key (case-insensitive, `0x` optional), its usage point id
 * (exact) or its name (case-insensitive); null when none matches. Throws `RangeError` when a name is shared
 * by several meters, so a command never picks one of them by chance.
 */
export function findManagedMeter(db: DatabaseSync, reference: string): ManagedMeter | null {
  const wanted = reference.trim().toLowerCase();
  if (wanted === "") return null;
  const meters = listManagedMeters(db);
  const byKey = meters.find((meter) => {
    const key = meter.meterKey.toLowerCase();
    return key === wanted || key === `0x${wanted}`;
  });
  if (byKey !== undefined) return byKey;
  // Usage point ids are base64url: their case matters.
  const byUsagePoint = meters.find((meter) => meter.usagePointId === reference.trim());
  if (byUsagePoint !== undefined) return byUsagePoint;
  const byName = meters.filter((meter) => meter.name?.toLowerCase() === wanted);
  if (byName.length > 1) {
    throw new RangeError(
      `${byName.length} meters are named "${reference.trim()}": name one by its meter key`,
    );
  }
  return byName[0] ?? null;
}
