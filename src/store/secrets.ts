/**
 * What the store keeps of the radio's secrets: as little as the owner needs.
 *
 * - `InstallCode` (DeviceInfo) derives the ZigBee link key the radio joins the meter's network
 *   with. The owner needs it once, to register the radio with the utility (MAC + install code),
 *   and it is printed on the radio's label. The store keeps only its last four hex digits, so the
 *   owner can tell which label matches; no hash either: a 64-bit code with 16 bits shown is
 *   brute-forced from an unkeyed hash in hours, and a keyed hash would need a key kept outside
 *   the database, which the gateway does not have. A different radio shows up as a different
 *   `DeviceMacId` anyway.
 * - `Auth` (MeterInfo) is a credential the radio holds for the meter's host; the gateway never
 *   uses it and does not store it at all.
 *
 * Migration 6 removed the clear values that earlier versions stored.
 *
 * @module
 */

/** Hex digits kept for display. */
const SHOWN_DIGITS = 4;
/** Codes shorter than this are not shortened but dropped: four digits would be most of them. */
const MIN_DIGITS = 12;

/** The last four hex digits of an install code (`0x…`), lower case; null when there is none. */
export function installCodeLast4(installCode: unknown): string | null {
  if (typeof installCode !== "string") return null;
  const digits = installCode.replace(/^0x/i, "");
  if (digits.length < MIN_DIGITS || !/^[0-9a-f]+$/i.test(digits)) return null;
  return digits.slice(-SHOWN_DIGITS).toLowerCase();
}
