/**
 * How the dashboard words numbers: power, energy, money, ages and times. Pure functions with no
 * DOM, so they are unit-tested under Deno.
 *
 * @module
 */

/** `850 W` below 1 kW, `2.35 kW` above; the magnitude only (direction is said separately). */
export function formatPower(powerW: number): string {
  const magnitudeW = Math.abs(powerW);
  if (magnitudeW < 1000) return `${Math.round(magnitudeW)} W`;
  return `${(magnitudeW / 1000).toFixed(magnitudeW < 10_000 ? 2 : 1)} kW`;
}

/** Energy in kWh with sensible precision. */
export function formatEnergy(energyWh: number): string {
  const energyKWh = energyWh / 1000;
  return `${energyKWh.toFixed(Math.abs(energyKWh) < 10 ? 2 : 1)} kWh`;
}

/** Money in the meter's currency (ISO 4217); a plain number when the currency is unknown. */
export function formatMoney(amount: number, currency: string | null, digits = 2): string {
  if (currency === null) return amount.toFixed(digits);
  try {
    return new Intl.NumberFormat(undefined, {
      style: "currency",
      currency,
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    }).format(amount);
  } catch {
    // An unknown code from the meter must not break the page.
    return `${amount.toFixed(digits)} ${currency}`;
  }
}

/** `just now`, `42 s ago`, `5 min ago`, `3 h ago`. */
export function formatAge(ageMs: number): string {
  const ageS = Math.max(0, Math.round(ageMs / 1000));
  if (ageS < 3) return "just now";
  if (ageS < 90) return `${ageS} s ago`;
  const ageMin = Math.round(ageS / 60);
  if (ageMin < 90) return `${ageMin} min ago`;
  return `${Math.round(ageMin / 60)} h ago`;
}

/** Local clock time, e.g. `14:05`. */
export function formatClock(timeMs: number): string {
  return new Date(timeMs).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

/** Local hour for an axis, e.g. `4 PM` or `16`. */
export function formatHour(timeMs: number): string {
  return new Date(timeMs).toLocaleTimeString(undefined, { hour: "numeric" });
}

/** Local date and time, e.g. `Jun 3, 14:05`. */
export function formatDateTime(timeMs: number): string {
  return new Date(timeMs).toLocaleString(undefined, {
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
}

/** What the current load costs per hour: demand (kW) × rate; nothing is bought while exporting. */
export function costPerHour(signedDemandW: number, ratePerKWh: number): number {
  return Math.max(0, signedDemandW) / 1000 * ratePerKWh;
}
