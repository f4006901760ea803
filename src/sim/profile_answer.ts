/**
 * How the simulated meter answers `get_profile_data`: the refusals a real meter gives (channel
 * not supported, too many periods, a time in the future, no data) and otherwise the household's
 * recorded intervals.
 *
 * @module
 */

import type { RadioCommand } from "../radio/commands.ts";
import { PROFILE_PERIODS } from "../radio/plausible_range.ts";
import type { FragmentWriter } from "./fragment_writer.ts";
import type { Household } from "./household.ts";

/**
 * What a meter does with `get_profile_data`, as meters differ: `full` answers both channels;
 * `deliveredOnly` answers `Received` with Status 2 (channel not supported); `unsupported` answers
 * every request with Status 2; `unknownCommand` is a radio that does not know the command at all
 * (`<Warning>` "Unknown command").
 */
export type ProfileSupport = "full" | "deliveredOnly" | "unsupported" | "unknownCommand";

export type ProfileCommand = Extract<RadioCommand, { name: "getProfileData" }>;

/** Status before looking at the history: 2 for an unsupported channel, 4 for too many. */
function profileRefusal(command: ProfileCommand, support: ProfileSupport, clockMs: number): number {
  const unsupported = support === "unsupported" ||
    (support === "deliveredOnly" && command.channel === "Received");
  if (unsupported) return 2;
  if (command.numberOfPeriods > PROFILE_PERIODS.max) return 4;
  return command.endTimeMs !== undefined && command.endTimeMs > clockMs ? 3 : 0;
}

/** The reply to `command` at sim time `clockMs`. */
export function profileAnswer(
  command: ProfileCommand,
  options: {
    support: ProfileSupport;
    household: Household;
    writer: FragmentWriter;
    clockMs: number;
  },
): string {
  if (options.support === "unknownCommand") return options.writer.warning("Unknown command");
  const refusal = profileRefusal(command, options.support, options.clockMs);
  const readings = refusal !== 0 ? [] : options.household.intervals({
    count: command.numberOfPeriods,
    endTimeMs: command.endTimeMs,
  });
  const status = refusal !== 0 ? refusal : readings.length ? 0 : 5;
  return options.writer.profileData(readings, status, command.channel === "Received");
}
