/**
 * Defensive conversions for event fields before they reach SQLite: events come from a radio, so a
 * decoder bug may hand over NaN, Infinity or a wrong type, and none of that may corrupt a row or
 * throw inside a flush.
 *
 * @module
 */

/** A finite number, else null. */
export function finiteOrNull(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** A finite number truncated to an integer (timestamps, codes), else null. */
export function integerOrNull(value: unknown): number | null {
  const number = finiteOrNull(value);
  return number === null ? null : Math.trunc(number);
}

/** A string, else null. */
export function textOrNull(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

/** 1/0 for a boolean, else null. */
export function flagOrNull(value: unknown): number | null {
  return typeof value === "boolean" ? Number(value) : null;
}
