/**
 * The one read policy: for any caller (the administrator, a household, an app's grant) which usage
 * points it may see, which kinds of data of them, from how far back and at which finest interval.
 * GraphQL (queries and subscriptions), the ESPI feed, Download My Data, notifications, the consent
 * page and the dashboard all ask this module; none of them decides on its own.
 *
 * - A **household** reads everything of the meters it owns (`store/households.ts`).
 * - The **administrator** sees every meter for link health, but only basic meter information, so
 *   it reads no household's readings. In a single home it is also the one household and reads all.
 * - An **app** reads what its grant names, but only meters the granting household still owns (a
 *   meter reassigned to a neighbour drops out of the grant), only the kinds of data its function
 *   blocks grant, no further back than its history, no finer than `servedIntervalS` allows.
 * - Anyone else reads nothing.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { type MeterOwnership, ownershipSnapshot } from "../store/households.ts";
import type { Caller, Grant } from "./caller.ts";
import { ALL_GRANTED_DATA, type GrantedData, grantedData } from "./granted_data.ts";

const DAY_S = 24 * 3600;

/** The interval length assumed for a meter that has not yet shown its own. */
export const DEFAULT_NATIVE_INTERVAL_S = 300;

/** What one caller may read. */
export interface ReadPolicy {
  /** May run the gateway: radios, link health, households, app registrations. */
  administrator: boolean;
  /** The household whose customer data (authorizations, messages, exports) this is; null: none. */
  householdId: number | null;
  /** Usage points (opaque meter ids) the caller may see at all, in meter order. */
  usagePointIds: ReadonlySet<string>;
  /** Kinds of data the caller may read of them. */
  grantedData: ReadonlySet<GrantedData>;
  /** How far back, seconds; null: everything stored. */
  historyLengthS: number | null;
  /** The finest interval asked for, seconds; null: the stored one. Served per `servedIntervalS`. */
  intervalDurationS: number | null;
}

const NOTHING: ReadPolicy = {
  administrator: false,
  householdId: null,
  usagePointIds: new Set(),
  grantedData: new Set(),
  historyLengthS: null,
  intervalDurationS: null,
};

/** The administrator in a multi-household gateway: link health, no readings. */
const BASIC_METER_INFO: ReadonlySet<GrantedData> = new Set(["METER_INFO"]);

/** The policy of a resolved caller. */
export function readPolicy(db: DatabaseSync, caller: Caller): ReadPolicy {
  switch (caller.kind) {
    case "owner":
      return personPolicy(db, caller.householdId);
    case "access":
      return grantPolicy(db, caller.grant);
    default:
      return NOTHING;
  }
}

/** The policy of a signed-in person: a household (`householdId`) or the administrator (null). */
export function personPolicy(db: DatabaseSync, householdId: number | null): ReadPolicy {
  const { households, ownership } = ownershipSnapshot(db);
  if (householdId === null) {
    const singleHome = households.length === 1;
    return {
      ...NOTHING,
      administrator: true,
      // In a single home the administrator is its one household.
      householdId: singleHome ? households[0].householdId : null,
      usagePointIds: new Set(ownership.map((meter) => meter.usagePointId)),
      grantedData: singleHome ? ALL_GRANTED_DATA : BASIC_METER_INFO,
    };
  }
  return {
    ...NOTHING,
    householdId,
    usagePointIds: new Set(
      ownership.filter((meter) => meter.householdId === householdId)
        .map((meter) => meter.usagePointId),
    ),
    grantedData: ALL_GRANTED_DATA,
  };
}

/**
 * The policy of an app's grant. `ownership` may be passed in by a caller checking many grants at
 * once (it is read from the store otherwise).
 */
export function grantPolicy(
  db: DatabaseSync,
  grant: Grant,
  ownership: readonly MeterOwnership[] = ownershipSnapshot(db).ownership,
): ReadPolicy {
  const granted = new Set(grant.usagePointIds);
  const owned = ownership.filter((meter) =>
    meter.householdId === grant.householdId && granted.has(meter.usagePointId)
  );
  return {
    administrator: false,
    householdId: grant.householdId,
    usagePointIds: new Set(owned.map((meter) => meter.usagePointId)),
    grantedData: grantedData(grant.scope),
    historyLengthS: grant.scope.historyLengthS,
    intervalDurationS: grant.scope.intervalDurationS,
  };
}

/**
 * The interval length served for a meter storing `nativeS` intervals to a caller asking for no
 * finer than `intervalDurationS`: the stored length when that is fine enough, else the smallest
 * multiple of it at or above the request that divides a day (so intervals line up with days, as
 * ESPI IntervalBlocks do; 2100 s → 2400 s, 3000 s → 3600 s); null when no such length exists up
 * to a day.
 */
export function servedIntervalS(nativeS: number, intervalDurationS: number | null): number | null {
  if (intervalDurationS === null || intervalDurationS <= nativeS) return nativeS;
  for (
    let intervalS = Math.ceil(intervalDurationS / nativeS) * nativeS;
    intervalS <= DAY_S;
    intervalS += nativeS
  ) {
    if (DAY_S % intervalS === 0) return intervalS;
  }
  return null;
}
