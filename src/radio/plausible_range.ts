/**
 * The one table of what a meter value may be: the wire type's range (ZigBee SE 1.x / ZCL) and the
 * physical range of each quantity once scaled, plus the ESPI integer types the feed writes them
 * into. The decoder (`raven/fields.ts`) refuses any value outside these bounds with a counted
 * warning, so the store never sees it; the ESPI feed checks its own output against the ESPI types
 * as a second line of defence.
 *
 * @module
 */

/** An inclusive range of plausible values. */
export interface PlausibleRange {
  min: number;
  max: number;
}

/** ESPI `Int48` (espi.xsd): IntervalReading value and cost, summary values, billToDate. */
export const ESPI_INT48: PlausibleRange = { min: -140_737_488_355_328, max: 140_737_488_355_328 };

/** ESPI `UInt16`: currency codes. */
export const ESPI_UINT16: PlausibleRange = { min: 0, max: 0xffff };

/** ISO 4217 numeric currency codes (ZCL Currency is a uint16 holding one). */
export const ISO_4217_NUMERIC: PlausibleRange = { min: 0, max: 999 };

/** ZCL uint24: Metering Multiplier (0x0301) and Divisor (0x0302); ProfileData interval counts. */
export const ZCL_UINT24: PlausibleRange = { min: 0, max: 0xff_ffff };

/** ZCL uint32: Price cluster Price, BlockPriceDetail thresholds and prices. */
export const ZCL_UINT32: PlausibleRange = { min: 0, max: 0xffff_ffff };

/** ZCL uint48: raw summation registers (CurrentSummationDelivered/Received, period usage). */
export const ZCL_UINT48: PlausibleRange = { min: 0, max: 2 ** 48 - 1 };

/**
 * Instantaneous demand once scaled, W. A residential or small commercial service is at most a
 * few hundred kW (a 400 A, 480 V three-phase service is ≈ 330 kW); 10 MW leaves a margin of 30×
 * and still refuses the garbage a hostile or mis-scaled fragment produces (int32 × uint24).
 */
export const DEMAND_W: PlausibleRange = { min: -10_000_000, max: 10_000_000 };

/**
 * A register (summation, period usage, block threshold) once scaled, Wh: never negative (uint48
 * on the wire) and small enough that every sum and difference the gateway serves fits ESPI's
 * Int48 (≈ 140 TWh, beyond any meter's register).
 */
export const REGISTER_WH: PlausibleRange = { min: 0, max: ESPI_INT48.max };

/** ZCL Price Trailing Digit: the high nibble of one octet. */
export const PRICE_TRAILING_DIGITS: PlausibleRange = { min: 0, max: 15 };

/** ZCL GetProfileResponse: at most 12 periods per request and answer (manual p.29). */
export const PROFILE_PERIODS: PlausibleRange = { min: 0, max: 12 };

/** ZCL enum8: ProfileData `Status` (0–5 defined; other values are reported, not refused). */
export const ZCL_UINT8: PlausibleRange = { min: 0, max: 0xff };

/**
 * Energy of one profile interval once scaled, Wh: never negative (a uint24 count), and at most
 * what the largest plausible demand ({@link DEMAND_W}) draws over the interval.
 */
export function intervalEnergyWh(intervalS: number): PlausibleRange {
  return { min: 0, max: DEMAND_W.max * intervalS / 3600 };
}

/** Link strength as the radio reports it: 0x00–0x64 = 0–100 %. */
export const LINK_STRENGTH_PERCENT: PlausibleRange = { min: 0, max: 100 };

/** ZigBee 2.4 GHz channels. */
export const ZIGBEE_CHANNEL: PlausibleRange = { min: 11, max: 26 };

/** Whether `value` is a finite number inside `range`. */
export function isPlausible(value: number, range: PlausibleRange): boolean {
  return Number.isFinite(value) && value >= range.min && value <= range.max;
}
