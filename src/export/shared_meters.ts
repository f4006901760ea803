/**
 * Which meters a live export may publish, as their households decide (`exportAllowedSinceMs`):
 * every meter in a single home; in a building, a household's meters from the moment it turned its
 * export switch on. An exporter asks before publishing anything of a meter and hears of each
 * change, so it can withdraw what it published of a meter at once (the MQTT export clears its
 * retained topics) and announce a newly shared one.
 *
 * Changes made in this process (the dashboard's switch, the administrator's assignments) arrive
 * through `onHouseholdsChanged` at once; a change made by another process on the same database
 * (`openseg households`) is seen at the meter's next reading.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { exportAllowedSinceMs, onHouseholdsChanged } from "../store/households.ts";
import { listMeters } from "../store/queries.ts";

export interface SharedMetersOptions {
  db: DatabaseSync;
  /** A meter became shareable (or its household turned the switch on anew). */
  onShared: (meterKey: string, sinceMs: number) => void;
  /** A meter that was shared no longer is: nothing more of it may be published. */
  onWithdrawn: (meterKey: string) => void;
}

export interface SharedMeters {
  /**
   * From when the meter's data may be published (Unix ms; 0: all of it), or null: not at all.
   * Reports a change since the last answer for this meter to `onShared` / `onWithdrawn`.
   */
  sinceMs(meterKey: string): number | null;
  /** Stops listening for changes. */
  stop(): void;
}

export function sharedMeters(options: SharedMetersOptions): SharedMeters {
  const { db } = options;
  /** The last answer per meter: what the exporter has acted on. */
  const known = new Map<string, number | null>();
  const sinceMs = (meterKey: string): number | null => {
    const current = exportAllowedSinceMs(db, meterKey);
    const previous = known.get(meterKey);
    known.set(meterKey, current);
    if (previous === undefined || previous === current) return current;
    if (current === null) options.onWithdrawn(meterKey);
    else options.onShared(meterKey, current);
    return current;
  };
  // Whichever connection made the change, re-reading the meters already acted on is cheap.
  const stopListening = onHouseholdsChanged(() => {
    for (const { meterKey } of listMeters(db)) if (known.has(meterKey)) sinceMs(meterKey);
  });
  return { sinceMs, stop: stopListening };
}
