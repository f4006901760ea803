/**
 * The "Now" panel: the selected meter's demand, big, with the direction of flow (import from the
 * grid or export to it), the price in effect and what the current load costs per hour. It turns
 * visibly stale when readings stop, the radio link is down or the live stream is reconnecting.
 *
 * @module
 */

/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="esnext" />

import { byId } from "./dom.ts";
import { costPerHour, formatAge, formatMoney, formatPower } from "./format.ts";
import type { Demand, Price } from "./queries.ts";

/** No reading for this long (wall time) and the value is shown as stale. */
const STALE_AFTER_MS = 60_000;

export interface NowPanel {
  showDemand(demand: Demand | null): void;
  showPrice(price: Price | null): void;
  /** Why the live value cannot be trusted right now, or null when the link and stream are fine. */
  setTrouble(reason: string | null): void;
  /** Re-words the reading age and re-checks staleness (called every second). */
  tick(): void;
}

export function createNowPanel(): NowPanel {
  const section = byId("now");
  const power = byId("now-power");
  const direction = byId("now-direction");
  const priceLine = byId("now-price");
  const updated = byId("now-updated");
  const staleNote = byId("now-stale");
  let demand: Demand | null = null;
  let price: Price | null = null;
  let trouble: string | null = null;
  // When the reading arrived here: a simulated meter's clock can run ahead of the wall clock.
  let receivedWallMs: number | null = null;

  function render(): void {
    const signedW = demand?.signedDemandW ?? null;
    power.textContent = signedW === null ? "–" : formatPower(signedW);
    const exporting = signedW !== null && signedW < 0;
    direction.textContent = signedW === null
      ? "no reading yet"
      : exporting
      ? "sending to the grid"
      : "from the grid";
    section.dataset.direction = signedW === null ? "" : exporting ? "export" : "import";
    priceLine.textContent = priceText(signedW, price);
    tick();
  }

  function tick(): void {
    const ageMs = receivedWallMs === null ? null : Date.now() - receivedWallMs;
    updated.textContent = ageMs === null ? "" : `Updated ${formatAge(ageMs)}`;
    const reason = trouble ??
      (ageMs !== null && ageMs > STALE_AFTER_MS ? "No new reading for over a minute." : null);
    section.classList.toggle("stale", reason !== null);
    staleNote.hidden = reason === null;
    staleNote.textContent = reason === null ? "" : `Stale: ${reason}`;
  }

  return {
    showDemand(next) {
      const isNewer = next !== null && next.at !== demand?.at;
      demand = next;
      if (isNewer) receivedWallMs = Math.min(Date.now(), Date.parse(next.at));
      render();
    },
    showPrice(next) {
      price = next;
      render();
    },
    setTrouble(reason) {
      trouble = reason;
      tick();
    },
    tick,
  };
}

function priceText(signedW: number | null, price: Price | null): string {
  if (price === null || price.ratePerKWh === null) return "Price not known yet";
  const tier = price.label ?? (price.tier === null ? "Current price" : `Tier ${price.tier}`);
  const rate = `${formatMoney(price.ratePerKWh, price.currency, 3)}/kWh`;
  if (signedW === null) return `${tier} · ${rate}`;
  if (signedW < 0) return `${tier} · ${rate} · buying nothing right now`;
  const perHour = formatMoney(costPerHour(signedW, price.ratePerKWh), price.currency);
  return `${tier} · ${rate} · ${perHour} per hour at this rate`;
}
