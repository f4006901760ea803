/**
 * Which meter an event belongs to: every stored row is keyed by this `meterKey`.
 *
 * The rule, first match wins:
 * 1. the event's own meter MAC (`meter`);
 * 2. the port's known single meter: the meter of the last `connection` event that named one, or
 *    the only entry of the last `meterList` with exactly one meter (a list with several meters
 *    makes the port ambiguous and forgets it);
 * 3. the radio's MAC (`device`);
 * 4. the port name.
 *
 * Rules 3 and 4 only apply before the radio has named its meter; rows stored under them stay
 * under that key (they are not re-keyed later), which keeps writes append-only.
 *
 * @module
 */

import type { MeterEvent } from "../radio/events.ts";

/** The meter key for `event` arriving on `port`, given the port's known meter (if any). */
export function resolveMeterKey(
  event: MeterEvent,
  port: string,
  knownMeterKey: string | undefined,
): string {
  return nonEmpty(event.meter) ?? knownMeterKey ?? nonEmpty(event.device) ?? port;
}

/**
 * What `event` teaches about the port's single meter: a meter key, `null` to forget (ambiguous
 * list), or `undefined` when it says nothing.
 */
export function knownMeterFrom(event: MeterEvent): string | null | undefined {
  if (event.kind === "connection") return nonEmpty(event.meter) ?? undefined;
  if (event.kind === "meterList") {
    const meters = Array.isArray(event.meters) ? event.meters.filter(nonEmpty) : [];
    if (meters.length === 1) return meters[0];
    return meters.length > 1 ? null : undefined;
  }
  return undefined;
}

function nonEmpty(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}
