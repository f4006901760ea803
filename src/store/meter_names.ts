/**
 * The owner's names for meters, kept in the durable `meters.name` column so every reader
 * (`listMeters`, the consent page, the APIs) shows the same name.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { statement } from "./statements.ts";

/** The longest name kept; a label for a phone screen, not a document. */
export const MAX_METER_NAME_CHARS = 100;

/**
 * Sets (or, with null or blank, clears) a meter's name; false when the meter is unknown. Throws
 * `RangeError` for a name longer than `MAX_METER_NAME_CHARS` or with control characters.
 */
export function setMeterName(db: DatabaseSync, meterKey: string, name: string | null): boolean {
  const trimmed = name?.trim() ?? "";
  if (trimmed.length > MAX_METER_NAME_CHARS) {
    throw new RangeError(`a meter name has at most ${MAX_METER_NAME_CHARS} characters`);
  }
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(trimmed)) {
    throw new RangeError("a meter name cannot contain control characters");
  }
  return statement(db, "UPDATE meters SET name = ? WHERE meter_key = ?")
    .run(trimmed === "" ? null : trimmed, meterKey).changes > 0;
}
