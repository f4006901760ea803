/**
 * The administrator's overview of a gateway's households: each with its sign-in state, export
 * switch and meters, plus the meters nobody owns. `openseg households list` prints it and the
 * `/owner/households` page shows it, so both say the same thing.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { listManagedMeters, type ManagedMeter } from "../store/household_meters.ts";
import { listHouseholds } from "../store/households.ts";
import { setupCodeExpiresMs } from "./owner.ts";

/** A meter as the overview shows it. */
export type OverviewMeter = Omit<ManagedMeter, "householdId">;

/** One household in the overview. */
export interface HouseholdOverview {
  householdId: number;
  /** The same number: the household is this ESPI RetailCustomer. */
  retailCustomerId: number;
  name: string;
  hasPassword: boolean;
  /** When its pending setup code stops working; null when none is pending. */
  setupCodeExpiresMs: number | null;
  /** Whether its meters' data may leave through exports (always, in a single home). */
  exportAllowed: boolean;
  /** How it signs in, in words. */
  signIn: string;
  meters: OverviewMeter[];
}

/** Every household and meter of a gateway. */
export interface HouseholdsOverview {
  /** One household: it owns every meter and signs in with the administrator password. */
  singleHome: boolean;
  households: HouseholdOverview[];
  /** Meters assigned to no one: nobody reads them until the administrator assigns them. */
  unassignedMeters: OverviewMeter[];
}

/** The overview at `nowMs`. */
export function householdsOverview(db: DatabaseSync, nowMs: number): HouseholdsOverview {
  const households = listHouseholds(db);
  const meters = listManagedMeters(db);
  const singleHome = households.length === 1;
  const metersOf = (householdId: number | null) =>
    meters.filter((meter) => meter.householdId === householdId).map(overviewMeter);
  return {
    singleHome,
    households: households.map((household) => {
      const expiresMs = setupCodeExpiresMs(
        db,
        { kind: "household", householdId: household.householdId },
        nowMs,
      );
      return {
        householdId: household.householdId,
        retailCustomerId: household.householdId,
        name: household.name,
        hasPassword: household.hasPassword,
        setupCodeExpiresMs: expiresMs,
        exportAllowed: singleHome || household.exportAllowed,
        signIn: singleHome
          ? "signs in with the administrator password (single home)"
          : household.hasPassword
          ? "password set"
          : expiresMs !== null
          ? `setup code pending until ${new Date(expiresMs).toISOString()}`
          : "no password yet (re-key it for a setup code)",
        meters: metersOf(household.householdId),
      };
    }),
    unassignedMeters: metersOf(null),
  };
}

/** A meter without its owner (the overview groups meters by owner). */
export function overviewMeter(meter: ManagedMeter): OverviewMeter {
  return { meterKey: meter.meterKey, name: meter.name, usagePointId: meter.usagePointId };
}
