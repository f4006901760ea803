/**
 * The simulated meter's fragments: what a RAVEn or EMU-2 with these MACs writes for each kind of
 * data, given the household model and the device state the caller keeps.
 *
 * @module
 */

import type { ScheduleEventName } from "../radio/commands.ts";
import { PROFILE_INTERVAL_S } from "../radio/raven/fields.ts";
import type { Household, IntervalReading, UtilityMessage } from "./household.ts";
import { createRandom } from "./household.ts";
import {
  demandHex,
  escapeXmlText,
  formatFragment,
  type FragmentField,
  hex,
  type LineEnding,
  tsHex,
  UNSET_TIME_HEX,
} from "./format.ts";
import type { Schedule } from "./schedules.ts";

export interface FragmentWriterOptions {
  /** Radio MAC, lower case. */
  deviceMac: string;
  /** Meter MAC, lower case. */
  meterMac: string;
  household: Household;
  lineEnding: LineEnding;
  /** `emu2`: hex16 summations, PriceCluster with StartTime/Duration. */
  model: "raven" | "emu2";
}

/** A price set with `set_current_price`, as the command gave it. */
export interface UserPrice {
  price: number;
  trailingDigits: number;
}

/** A billing period (`close_current_period`). */
export interface UsagePeriod {
  startMs: number;
  startDeliveredWh: number;
}

export interface ClosedPeriod {
  usageWh: number;
  startMs: number;
  endMs: number;
}

/** The period code of an interval length; 900 s (code 3) when the manual has no code for it. */
function profilePeriodCode(intervalS: number): number {
  const code = PROFILE_INTERVAL_S.indexOf(intervalS);
  return code < 0 ? 3 : code;
}

const yn = (value: boolean) => (value ? "Y" : "N");

/** Formats every fragment the simulated device writes. */
export class FragmentWriter {
  readonly #deviceMac: string;
  readonly #meterMac: string;
  readonly #household: Household;
  readonly #lineEnding: LineEnding;
  readonly #model: "raven" | "emu2";
  readonly #summationDigits: number;
  readonly #channel: number;
  readonly #shortAddr: string;

  constructor(options: FragmentWriterOptions) {
    this.#deviceMac = options.deviceMac;
    this.#meterMac = options.meterMac;
    this.#household = options.household;
    this.#lineEnding = options.lineEnding;
    this.#model = options.model;
    this.#summationDigits = options.model === "emu2" ? 16 : 8;
    this.#channel = 11 + (parseInt(options.meterMac.slice(-2), 16) % 16);
    this.#shortAddr = hex(parseInt(options.deviceMac.slice(-4), 16) ^ 0x5a5a, 4);
  }

  fragment(root: string, fields: FragmentField[]): string {
    return formatFragment(root, fields, this.#lineEnding);
  }

  #ids(): FragmentField[] {
    return [["DeviceMacId", this.#deviceMac], ["MeterMacId", this.#meterMac]];
  }

  #scaling(digitsRight: number): FragmentField[] {
    return [
      ["Multiplier", hex(1, 8)],
      ["Divisor", hex(1000, 8)],
      ["DigitsRight", hex(digitsRight, 2)],
      ["DigitsLeft", hex(6, 2)],
      ["SuppressLeadingZero", "Y"],
    ];
  }

  /** Stable pseudo-random hex digits derived from the MAC (install code, link key). */
  #macDigits(count: number, salt: number): string {
    const rng = createRandom(parseInt(this.#deviceMac.slice(-8), 16) ^ salt);
    return Array.from({ length: count }, () => Math.floor(rng() * 16).toString(16)).join("");
  }

  warning(text: string): string {
    return this.fragment("Warning", [["Text", text]]);
  }

  connectionStatus(status: string): string {
    const joined = status !== "Initializing" && status !== "Network Discovery";
    const fields: FragmentField[] = [...this.#ids(), ["Status", status]];
    if (status === "Connected") fields.push(["Description", "Successfully Joined"]);
    if (joined) {
      fields.push(["ExtPanId", this.#meterMac], ["Channel", String(this.#channel)], [
        "ShortAddr",
        this.#shortAddr,
      ]);
    }
    const strength = !joined ? 0 : status === "Joining" || status === "Join: Success" ? 0x50 : 0x64;
    fields.push(["LinkStrength", hex(strength, 2)]);
    return this.fragment("ConnectionStatus", fields);
  }

  deviceInfo(): string {
    const raven = this.#model === "raven";
    return this.fragment("DeviceInfo", [
      ["DeviceMacId", this.#deviceMac],
      ["InstallCode", "0x" + this.#macDigits(16, 1)],
      ["LinkKey", "0x" + this.#macDigits(32, 2)],
      ["FWVersion", raven ? "1.4.13 (4718)" : "2.0.0 (7400)"],
      ["HWVersion", raven ? "1.0.0" : "2.7.3"],
      ["ImageType", raven ? "0x1301" : "0x2201"],
      ["Manufacturer", "Rainforest Automation, Inc."],
      ["ModelId", raven ? "RFA-Z106" : "Z105-2-EMU2-LEDD_JM"],
      [
        "DateCode",
        (raven ? "20130514" : "20200511") +
        String(parseInt(this.#deviceMac.slice(-6), 16) % 1e8).padStart(8, "0"),
      ],
    ]);
  }

  networkInfo(): string {
    return this.fragment("NetworkInfo", [
      ["DeviceMacId", this.#deviceMac],
      ["CoordMacId", this.#meterMac],
      ["Status", "Connected"],
      ["Description", "Successfully Joined"],
      ["ExtPanId", this.#meterMac],
      ["Channel", String(this.#channel)],
      ["ShortAddr", this.#shortAddr],
      ["LinkStrength", hex(0x64, 2)],
    ]);
  }

  meterList(): string {
    return this.fragment("MeterList", [
      ["DeviceMacId", this.#deviceMac],
      ["MeterMacId", this.#meterMac],
    ]);
  }

  meterInfo(): string {
    return this.fragment("MeterInfo", [
      ...this.#ids(),
      ["MeterType", "electric"],
      ["NickName", "Home"],
      ["Enabled", "Y"],
    ]);
  }

  demand(timeMs: number): string {
    return this.fragment("InstantaneousDemand", [
      ...this.#ids(),
      ["TimeStamp", tsHex(timeMs)],
      ["Demand", demandHex(this.#household.demandW(timeMs))],
      ...this.#scaling(3),
    ]);
  }

  summation(timeMs: number): string {
    const registers = this.#household.advanceTo(timeMs);
    return this.fragment("CurrentSummationDelivered", [
      ...this.#ids(),
      ["TimeStamp", tsHex(timeMs)],
      [
        "SummationDelivered",
        hex(Math.floor(registers.summationDeliveredWh), this.#summationDigits),
      ],
      ["SummationReceived", hex(Math.floor(registers.summationReceivedWh), this.#summationDigits)],
      ...this.#scaling(1),
    ]);
  }

  /** The tariff at `timeMs`, or the price the user set (reported as tier 1). */
  price(timeMs: number, userPrice: UserPrice | null): string {
    const tier = this.#household.priceAt(timeMs);
    const price = userPrice ?? { price: Math.round(tier.pricePerKWh * 1000), trailingDigits: 3 };
    const label = userPrice ? "Set by User" : tier.label;
    const fields: FragmentField[] = [
      ...this.#ids(),
      ["TimeStamp", tsHex(timeMs)],
      ["Price", hex(price.price, 8)],
      ["Currency", hex(tier.currencyCode, 4)],
      ["TrailingDigits", hex(price.trailingDigits, 2)],
      // A user-set price is reported as tier 1, as an EMU-2 does (roachwork capture).
      ["Tier", hex(userPrice ? 1 : tier.tier, 2)],
    ];
    if (this.#model === "emu2") {
      fields.push(
        ["StartTime", userPrice ? UNSET_TIME_HEX : tsHex(tier.startTimeMs)],
        ["Duration", userPrice ? "0xffff" : hex((tier.endTimeMs - tier.startTimeMs) / 60_000, 4)],
      );
    } else {
      fields.push(["TierLabel", escapeXmlText(label)]);
    }
    fields.push(["RateLabel", escapeXmlText(label)]);
    return this.fragment("PriceCluster", fields);
  }

  time(timeMs: number): string {
    return this.fragment("TimeCluster", [
      ...this.#ids(),
      ["UTCTime", tsHex(timeMs)],
      ["LocalTime", tsHex(timeMs + this.#household.utcOffsetMinutes * 60_000)],
    ]);
  }

  /** `message`, active or not; an all-empty fragment when there never was one. */
  message(message: UtilityMessage | null, active: boolean, confirmed: boolean): string {
    if (!message) {
      const names = ["TimeStamp", "Id", "Text", "ConfirmationRequired", "Confirmed", "Queue"];
      return this.fragment("MessageCluster", [
        ...this.#ids(),
        ...names.map((name): FragmentField => [name, ""]),
      ]);
    }
    return this.fragment("MessageCluster", [
      ...this.#ids(),
      ["TimeStamp", tsHex(message.startTimeMs)],
      ["Id", hex(message.id, 8)],
      ["Text", escapeXmlText(message.text)],
      ["ConfirmationRequired", yn(message.confirmationRequired)],
      ["Confirmed", yn(confirmed)],
      ["Queue", active ? "Active" : "Cancel Pending"],
    ]);
  }

  currentPeriodUsage(timeMs: number, period: UsagePeriod): string {
    const delivered = Math.floor(this.#household.advanceTo(timeMs).summationDeliveredWh);
    return this.fragment("CurrentPeriodUsage", [
      ...this.#ids(),
      ["TimeStamp", tsHex(timeMs)],
      ["CurrentUsage", hex(delivered - period.startDeliveredWh, this.#summationDigits)],
      ...this.#scaling(3),
      ["StartDate", tsHex(period.startMs)],
    ]);
  }

  lastPeriodUsage(lastPeriod: ClosedPeriod | null): string {
    return this.fragment("LastPeriodUsage", [
      ...this.#ids(),
      ["LastUsage", hex(lastPeriod?.usageWh ?? 0, this.#summationDigits)],
      ...this.#scaling(3),
      ["StartDate", lastPeriod ? tsHex(lastPeriod.startMs) : UNSET_TIME_HEX],
      ["EndDate", lastPeriod ? tsHex(lastPeriod.endMs) : UNSET_TIME_HEX],
    ]);
  }

  /** ProfileData with `readings` (newest first) of one channel and the answer's `status`. */
  profileData(readings: IntervalReading[], status: number, received: boolean): string {
    const fields: FragmentField[] = [
      ...this.#ids(),
      ["EndTime", readings.length ? tsHex(readings[0].endTimeMs) : hex(0, 8)],
      ["Status", hex(status, 2)],
      ["ProfileIntervalPeriod", String(profilePeriodCode(this.#household.intervalS))],
      ["NumberOfPeriodsDelivered", hex(readings.length, 2)],
    ];
    for (const reading of readings) {
      const wh = received ? reading.receivedWh : reading.deliveredWh;
      fields.push(["IntervalData", hex(Math.min(wh, 0xfffffe), 6)]);
    }
    return this.fragment("ProfileData", fields);
  }

  scheduleInfo(event: ScheduleEventName, schedule: Schedule): string {
    return this.fragment("ScheduleInfo", [
      ...this.#ids(),
      ["Event", event],
      ["Frequency", schedule.enabled ? hex(schedule.frequencyS, 8) : UNSET_TIME_HEX],
      ["Enabled", yn(schedule.enabled)],
    ]);
  }
}
