/**
 * Households: the customers (ESPI RetailCustomers) of a gateway and which meters each owns. A
 * gateway starts with one household that owns every meter, so a single home needs no setup; once
 * there are two or more, a meter belongs to the household it is assigned to, and a meter nobody
 * was given (a new one) belongs to no one until the administrator assigns it.
 *
 * Sign-in credentials of a household live in the same row but belong to `src/auth/accounts.ts`.
 *
 * Readers that cache who owns what hear of every change of it (a household added or removed, a
 * meter assigned, an export switch turned): exporters through `onHouseholdsChanged`, so a
 * household turning its switch off stops them at once, not at its meter's next reading; cached read
 * policies by comparing `householdChanges()`, a counter.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { all, get, statement } from "./statements.ts";

export const MAX_HOUSEHOLD_NAME_CHARS = 64;

/** Called after a change of households, their meters or their export switches. */
export type HouseholdsListener = (db: DatabaseSync) => void;

const householdsListeners = new Set<HouseholdsListener>();
let changes = 0;

/** Calls `listener` after each change of households; returns the unsubscribe function. */
export function onHouseholdsChanged(listener: HouseholdsListener): () => void {
  householdsListeners.add(listener);
  return () => householdsListeners.delete(listener);
}

/** How many changes of households this process has made: a cached answer older than one is stale. */
export function householdChanges(): number {
  return changes;
}

function householdsChanged(db: DatabaseSync): void {
  changes++;
  for (const listener of householdsListeners) listener(db);
}

let metersAdded = 0;

/** The ingest path stored a meter it had never stored: ownership snapshots are stale. */
export function noteMeterAdded(): void {
  metersAdded++;
}

/** Who owns what, as of one state of the store. */
export interface OwnershipSnapshot {
  households: readonly Household[];
  ownership: readonly MeterOwnership[];
}

const snapshots = new WeakMap<DatabaseSync, { key: string; snapshot: OwnershipSnapshot }>();

/**
 * The households and who owns each meter, read again only when they may have changed: after a
 * change of households or a new meter in this process, or any commit by another process (the
 * CLI), which SQLite's `data_version` reveals at once. Every request's read policy asks this, so
 * it costs one pragma instead of two queries.
 */
export function ownershipSnapshot(db: DatabaseSync): OwnershipSnapshot {
  const dataVersion = get<{ data_version: number }>(db, "PRAGMA data_version")?.data_version;
  const key = `${changes}:${metersAdded}:${dataVersion}`;
  const cached = snapshots.get(db);
  if (cached !== undefined && cached.key === key) return cached.snapshot;
  const households = listHouseholds(db);
  const snapshot = { households, ownership: meterOwnership(db, households) };
  snapshots.set(db, { key, snapshot });
  return snapshot;
}

export interface Household {
  /** Also its ESPI RetailCustomer id. */
  householdId: number;
  name: string;
  hasPassword: boolean;
  /** Multi-household gateways export a meter's data only when its household allowed it. */
  exportAllowed: boolean;
  /** When the household last turned its export switch on (Unix ms); null while it is off. */
  exportAllowedSinceMs: number | null;
  createdMs: number;
}

/** Why a household name cannot be used, or null. */
export function householdNameProblem(name: string): string | null {
  if (name.trim() === "") return "a household needs a name";
  if (name.length > MAX_HOUSEHOLD_NAME_CHARS) {
    return `a household name has at most ${MAX_HOUSEHOLD_NAME_CHARS} characters`;
  }
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return "a household name cannot hold control characters";
  if (/^\d+$/.test(name.trim())) return "a household name cannot be only digits (ids are)";
  // The sign-in page reads this name as the administrator's account.
  if (/^administrator$/i.test(name.trim())) return 'a household cannot be named "administrator"';
  return null;
}

/** Every household, by id. */
export function listHouseholds(db: DatabaseSync): Household[] {
  return all<HouseholdRow>(db, `${SELECT} ORDER BY household_id`).map(toHousehold);
}

/** How many households the gateway has; one means a single home. */
export function householdCount(db: DatabaseSync): number {
  return get<{ n: number }>(db, "SELECT count(*) AS n FROM households")?.n ?? 0;
}

/** The household with this id, or null. */
export function findHousehold(db: DatabaseSync, householdId: number): Household | null {
  const row = get<HouseholdRow>(db, `${SELECT} WHERE household_id = ?`, householdId);
  return row === undefined ? null : toHousehold(row);
}

/** The household named `nameOrId` (case-insensitive) or with that numeric id, or null. */
export function findHouseholdByName(db: DatabaseSync, nameOrId: string): Household | null {
  const trimmed = nameOrId.trim();
  if (/^\d{1,15}$/.test(trimmed)) return findHousehold(db, Number(trimmed));
  const row = get<HouseholdRow>(db, `${SELECT} WHERE name = ?`, trimmed);
  return row === undefined ? null : toHousehold(row);
}

/**
 * Adds a household. When it is the second, the first one's meters become explicitly its own, so
 * nothing the home already had moves to the newcomer or becomes unassigned.
 */
export function addHousehold(
  db: DatabaseSync,
  options: { name: string; nowMs: number },
): Household {
  const problem = householdNameProblem(options.name);
  if (problem !== null) throw new RangeError(problem);
  const name = options.name.trim();
  if (findHouseholdByName(db, name) !== null) {
    throw new RangeError(`a household named "${name}" exists already`);
  }
  db.exec("BEGIN IMMEDIATE");
  try {
    const sole = householdCount(db) === 1 ? listHouseholds(db)[0] : null;
    if (sole !== null) {
      statement(db, "UPDATE meters SET household_id = ? WHERE household_id IS NULL")
        .run(sole.householdId);
    }
    const householdId = Number(
      statement(
        db,
        "INSERT INTO households (name, created_ms, updated_ms) VALUES (?, ?, ?)",
      ).run(name, options.nowMs, options.nowMs).lastInsertRowid,
    );
    db.exec("COMMIT");
    householdsChanged(db);
    return findHousehold(db, householdId)!;
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}

/**
 * Removes a household: its meters become unassigned, its sessions end, and the authorizations it
 * granted are deleted with their tokens. The last household cannot be removed.
 */
export function removeHousehold(db: DatabaseSync, householdId: number): void {
  if (findHousehold(db, householdId) === null) throw new RangeError("no such household");
  if (householdCount(db) <= 1) throw new RangeError("the last household cannot be removed");
  db.exec("BEGIN IMMEDIATE");
  try {
    statement(db, "DELETE FROM oauth_authorizations WHERE household_id = ?").run(householdId);
    // Meters (SET NULL) and sessions (CASCADE) follow the foreign keys.
    statement(db, "DELETE FROM households WHERE household_id = ?").run(householdId);
    db.exec("COMMIT");
    householdsChanged(db);
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}

/** Gives a stored meter to a household (null: to no one); false when the meter is unknown. */
export function assignMeter(
  db: DatabaseSync,
  meterKey: string,
  householdId: number | null,
): boolean {
  if (householdId !== null && findHousehold(db, householdId) === null) {
    throw new RangeError("no such household");
  }
  const changed = statement(db, "UPDATE meters SET household_id = ? WHERE meter_key = ?")
    .run(householdId, meterKey).changes > 0;
  if (changed) householdsChanged(db);
  return changed;
}

/** A stored meter, its opaque usage point id, and the household that owns it (null: nobody). */
export interface MeterOwnership {
  meterKey: string;
  usagePointId: string;
  householdId: number | null;
}

/** Who owns each stored meter, by the rule in the module doc. */
export function meterOwnership(
  db: DatabaseSync,
  households: readonly Household[] = listHouseholds(db),
): MeterOwnership[] {
  const sole = households.length === 1 ? households[0].householdId : null;
  return all<MeterOwnership>(
    db,
    `SELECT m.meter_key AS meterKey, u.usage_point_id AS usagePointId,
       m.household_id AS householdId
     FROM meters m JOIN usage_points u ON u.meter_key = m.meter_key ORDER BY m.meter_key`,
  ).map((row) => ({ ...row, householdId: sole ?? row.householdId }));
}

/**
 * Turns a household's export switch on or off. `export_allowed` keeps 0 while it is off and the
 * moment it was turned on otherwise (so a switch turned on before this was recorded, stored as 1,
 * reads as "allowed all along"): exports send only what was measured since. Turning on a switch
 * that is on already keeps its moment.
 */
export function setExportAllowed(
  db: DatabaseSync,
  householdId: number,
  allowed: boolean,
  nowMs: number = Date.now(),
): void {
  statement(
    db,
    `UPDATE households SET export_allowed = CASE WHEN :allowed = 0 THEN 0
       WHEN export_allowed > 0 THEN export_allowed ELSE max(:nowMs, 1) END, updated_ms = :nowMs
     WHERE household_id = :householdId`,
  ).run({ allowed: allowed ? 1 : 0, nowMs, householdId });
  householdsChanged(db);
}

/**
 * True when the meter's data may leave the gateway through an export (MQTT, databases): always in
 * a single home, otherwise only when its household has turned its export switch on.
 */
export function exportAllowedFor(db: DatabaseSync, meterKey: string): boolean {
  return exportAllowedSinceMs(db, meterKey) !== null;
}

/**
 * From when the meter's data may be exported (Unix ms; readings from before stay on the gateway):
 * 0 in a single home (everything), the moment its household turned the switch on otherwise, null
 * while it may not be exported at all (switch off, or the meter belongs to no household).
 */
export function exportAllowedSinceMs(db: DatabaseSync, meterKey: string): number | null {
  if (householdCount(db) <= 1) return 0;
  const row = get<{ sinceMs: number }>(
    db,
    `SELECT h.export_allowed AS sinceMs FROM meters m
     JOIN households h ON h.household_id = m.household_id WHERE m.meter_key = ?`,
    meterKey,
  );
  return row === undefined || row.sinceMs <= 0 ? null : row.sinceMs;
}

const SELECT = `SELECT household_id AS householdId, name, password_hash IS NOT NULL AS hasPassword,
  export_allowed AS exportAllowed, created_ms AS createdMs FROM households`;

interface HouseholdRow {
  householdId: number;
  name: string;
  hasPassword: number;
  exportAllowed: number;
  createdMs: number;
}

function toHousehold(row: HouseholdRow): Household {
  return {
    householdId: row.householdId,
    name: row.name,
    hasPassword: row.hasPassword === 1,
    exportAllowed: row.exportAllowed > 0,
    exportAllowedSinceMs: row.exportAllowed > 0 ? row.exportAllowed : null,
    createdMs: row.createdMs,
  };
}
