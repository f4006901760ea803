/**
 * The administrator's "Households" panel in a building: each household with the meters it owns
 * (by name, with the join state the meters panel also shows) and whether it shares them with the
 * building's exports, and the meters nobody owns yet. No readings: those are the households'.
 *
 * @module
 */

/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="esnext" />

import { byId, h, replaceChildren } from "./dom.ts";
import { meterLabel } from "./meters.ts";
import type { HouseholdMeters, Meter } from "./queries.ts";

type ListedMeter = Pick<Meter, "id" | "name">;

export interface HouseholdsPanel {
  show(households: readonly HouseholdMeters[], meters: readonly ListedMeter[]): void;
}

export function createHouseholdsPanel(): HouseholdsPanel {
  const list = byId("household-list");

  function meterNames(ids: readonly string[], meters: readonly ListedMeter[]): HTMLElement {
    const names = ids.map((id) =>
      meterLabel(meters.find((meter) => meter.id === id) ?? { id, name: null })
    );
    return h("span", {}, names.length === 0 ? "No meters" : names.join(", "));
  }

  return {
    show(households, meters) {
      const owned = new Set(households.flatMap((household) => household.meters.map((m) => m.id)));
      const unassigned = meters.filter((meter) => !owned.has(meter.id)).map((meter) => meter.id);
      replaceChildren(
        list,
        ...households.map((household) =>
          h(
            "li",
            { class: "row household", "data-household": household.id },
            h("span", { class: "row-title" }, household.name),
            meterNames(household.meters.map((meter) => meter.id), meters),
            h(
              "span",
              { class: `badge ${household.exportAllowed ? "ok" : ""}` },
              household.exportAllowed ? "Shares with exports" : "Not shared with exports",
            ),
          )
        ),
        unassigned.length > 0 &&
          h(
            "li",
            { class: "row household unassigned" },
            h("span", { class: "row-title" }, "Not assigned"),
            meterNames(unassigned, meters),
          ),
      );
    },
  };
}
