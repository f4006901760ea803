/**
 * A building for the isolation tests of every interface: two households on one gateway with
 * three stored meters, household A owning the first two and household B the third, and a signed-in
 * session for each household and for the administrator. The database is real; the meters must
 * have been stored by the ingest path first.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { createSession, SESSION_COOKIE } from "../src/auth/sessions.ts";
import {
  addHousehold,
  assignMeter,
  listHouseholds,
  meterOwnership,
  removeHousehold,
} from "../src/store/households.ts";

export interface Resident {
  householdId: number;
  name: string;
  /** Its meters' opaque ids (usage point ids) and keys, in meter order. */
  meterIds: string[];
  meterKeys: string[];
  /** `name=value` of a signed-in session of this household. */
  cookie: string;
}

export interface Building {
  a: Resident;
  b: Resident;
  /** `name=value` of the administrator's session. */
  administratorCookie: string;
}

/** Turns the single home with (at least) three stored meters into the building. */
export function makeBuilding(db: DatabaseSync, nowMs = Date.now()): Building {
  const meters = meterOwnership(db);
  if (meters.length < 3) throw new Error(`a building needs 3 stored meters; ${meters.length}`);
  const home = listHouseholds(db);
  const a = addHousehold(db, { name: "Flat A", nowMs });
  const b = addHousehold(db, { name: "Flat B", nowMs });
  for (const household of home) removeHousehold(db, household.householdId);
  const [first, second, third] = meters;
  assignMeter(db, first.meterKey, a.householdId);
  assignMeter(db, second.meterKey, a.householdId);
  assignMeter(db, third.meterKey, b.householdId);
  const cookie = (householdId: number | null) =>
    `${SESSION_COOKIE}=${createSession(db, { nowMs, secure: false, householdId }).sessionId}`;
  const resident = (
    household: { householdId: number; name: string },
    owned: typeof meters,
  ): Resident => ({
    householdId: household.householdId,
    name: household.name,
    meterIds: owned.map((meter) => meter.usagePointId),
    meterKeys: owned.map((meter) => meter.meterKey),
    cookie: cookie(household.householdId),
  });
  return {
    a: resident(a, [first, second]),
    b: resident(b, [third]),
    administratorCookie: cookie(null),
  };
}
