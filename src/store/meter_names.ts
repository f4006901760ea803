/**
 * The owner's names for meters, kept in the durable `meters.name` column so every reader
 * (`listMeters`, the consent page, the APIs) shows the same name. Exporters that show the name
 * elsewhere (Home Assistant's device name over MQTT) hear of each rename through `onMeterRenamed`.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { statement } from "./statements.ts";

/** The longest name kept; a label for a phone screen, not a document. */
export const MAX_METER_NAME_CHARS = 100;

/** Called after each rename, with the database it was made in and the meter's key. */
export type RenameListener = (db: DatabaseSync, meterKey: string) => void;

const renameListeners = new Set<RenameListener>();

/** Calls `listener` after every successful `setMeterName`; returns the unsubscribe function. */
export function onMeterRenamed(listener: RenameListener): () => void {
  renameListeners.add(listener);
  return () => renameListeners.delete(listener);
}

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
  const changed = statement(db, "UPDATE meters SET name = ? WHERE meter_key = ?")
    .run(trimmed === "" ? null : trimmed, meterKey).changes > 0;
  if (changed) { for (const listener of renameListeners) listener(db, meterKey); }
  return changed;
}
