/**
 * The radio-independent command vocabulary the gateway uses to talk to a meter radio.
 *
 * A device adapter (e.g. `raven/adapter.ts`) translates these into its wire format. `meter` is the
 * meter MAC (`0x…`) for meter-scoped commands; omit it when only one meter is joined.
 *
 * @module
 */

/** Schedulable event classes (RAVEn `get_schedule`/`set_schedule`). */
export type ScheduleEventName = "time" | "price" | "demand" | "summation" | "message";

/** Every {@link ScheduleEventName}, in the order a device lists its schedules. */
export const SCHEDULE_EVENTS: readonly ScheduleEventName[] = [
  "time",
  "price",
  "demand",
  "summation",
  "message",
];

export type RadioCommand =
  | { name: "initialize" }
  | { name: "restart" }
  | { name: "getConnectionStatus" }
  | { name: "getDeviceInfo" }
  | { name: "getMeterList" }
  | { name: "getMeterInfo"; meter?: string }
  | { name: "getNetworkInfo" }
  | { name: "getSchedule"; meter?: string; event?: ScheduleEventName }
  | {
    name: "setSchedule";
    meter?: string;
    event: ScheduleEventName;
    frequencyS: number;
    enabled: boolean;
  }
  | { name: "getTime"; meter?: string; refresh?: boolean }
  | { name: "getMessage"; meter?: string; refresh?: boolean }
  | { name: "confirmMessage"; meter?: string; messageId: string }
  | { name: "getCurrentPrice"; meter?: string; refresh?: boolean }
  | { name: "setCurrentPrice"; meter?: string; price: number; trailingDigits: number }
  | { name: "getInstantaneousDemand"; meter?: string; refresh?: boolean }
  | { name: "getCurrentSummationDelivered"; meter?: string; refresh?: boolean }
  | { name: "getCurrentPeriodUsage"; meter?: string }
  | { name: "getLastPeriodUsage"; meter?: string }
  | { name: "closeCurrentPeriod"; meter?: string }
  | { name: "setFastPoll"; meter?: string; frequencyS: number; durationS: number }
  | {
    name: "getProfileData";
    meter?: string;
    numberOfPeriods: number;
    /** Unix ms of the last interval's end, or omitted/0 for "latest". */
    endTimeMs?: number;
    channel: "Delivered" | "Received";
  };

export type RadioCommandName = RadioCommand["name"];
