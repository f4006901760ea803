/**
 * Scales the raw counts of `ProfileData` to Wh. The fragment carries no Multiplier/Divisor
 * (manual p.29); a meter's interval channel counts in its summation register's unit (PROTOCOL.md
 * §4, an inference), so the adapter remembers each meter's last summation scaling and applies it
 * here. A value implausible once scaled (`plausible_range.ts`) refuses the whole fragment, as a
 * garbled one does in the decoder: the scaling or the fragment is wrong, not just that interval.
 *
 * @module
 */

import type { ProfileDataEvent } from "../events.ts";
import { intervalEnergyWh, isPlausible } from "../plausible_range.ts";
import type { MeterScale } from "./decode.ts";
import { scaleToMilli } from "./field_values.ts";

/** The scaling of each meter's last summation, applied to its ProfileData. */
export class ProfileScaler {
  readonly #scales = new Map<string, MeterScale>();

  /** Records the scaling a summation of `meter` came with. */
  noteSummation(meter: string | null, scale: MeterScale): void {
    this.#scales.set(meter ?? "", scale);
  }

  /** Fills `event.intervalsWh`; problems go to `warnings`. */
  scale(event: ProfileDataEvent, warnings: string[]): void {
    if (event.intervals.every((raw) => raw === null)) return;
    // A radio with one meter may leave MeterMacId out of either fragment.
    const only = this.#scales.size === 1 ? [...this.#scales.values()][0] : undefined;
    const scale = this.#scales.get(event.meter ?? "") ?? only;
    if (scale === undefined) {
      warnings.push("IntervalData: no summation of this meter seen yet to scale with");
      return;
    }
    if (event.intervalS === null) {
      warnings.push("IntervalData: no usable ProfileIntervalPeriod to check values against");
      return;
    }
    const range = intervalEnergyWh(event.intervalS);
    const scaled = event.intervals.map((raw) =>
      raw === null ? null : scaleToMilli(raw, scale.multiplier, scale.divisor)
    );
    const implausible = scaled.find((wh) => wh !== null && !isPlausible(wh, range));
    if (implausible !== undefined) {
      warnings.push(
        `IntervalData: ${implausible} Wh in ${event.intervalS} s is implausible; all discarded`,
      );
      return;
    }
    event.intervalsWh = scaled;
  }
}
