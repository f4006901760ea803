/**
 * Typed meter events: what every radio adapter turns its wire protocol into.
 *
 * Everything outside `src/radio` sees only these shapes. Values are in SI units with the unit in
 * the field name (`demandW`, `summationDeliveredWh`, `pricePerKWh`); times are Unix milliseconds
 * (UTC) or `null` when the device said "unset". Meter and device identifiers are lower-case hex
 * strings with a `0x` prefix, exactly as wide as the device sent them.
 *
 * @module
 */

/** Fields every event carries. */
export interface EventBase {
  /** Root tag of the fragment this came from, e.g. `InstantaneousDemand`. */
  fragment: string;
  /** Radio MAC (`DeviceMacId`), or null when absent. */
  device: string | null;
  /** Meter MAC (`MeterMacId`), or null when absent or not meter-scoped. */
  meter: string | null;
  /** The device's/meter's timestamp in Unix ms, or null when absent or unset (`0xffffffff`). */
  timeMs: number | null;
}

export interface DemandEvent extends EventBase {
  kind: "demand";
  /** Signed: negative means export to the grid. Null when the meter reported "invalid". */
  demandW: number | null;
  /** Display hint: digits right of the decimal point in kW. */
  digitsRight: number | null;
}

export interface SummationEvent extends EventBase {
  kind: "summation";
  summationDeliveredWh: number;
  /** Energy exported to the grid; null when the fragment did not carry it. */
  summationReceivedWh: number | null;
  digitsRight: number | null;
}

/** What a price says, the one shape the event, the store's rows and its reads share. */
export interface PriceFields {
  /** Currency major units per kWh; null when no price is set (0 or 0xffffffff). */
  pricePerKWh: number | null;
  /** ISO 4217 numeric code (840 = USD), null when absent. */
  currencyCode: number | null;
  /** ISO 4217 alphabetic code when known ("USD"), else null. */
  currency: string | null;
  tier: number | null;
  label: string | null;
  startTimeMs: number | null;
  durationS: number | null;
}

export interface PriceEvent extends EventBase, PriceFields {
  kind: "price";
}

export interface PriceBlock {
  /** Upper threshold of the block in Wh, null for the last (unbounded) block. */
  thresholdWh: number | null;
  pricePerKWh: number;
}

export interface BlockPriceEvent extends EventBase {
  kind: "blockPrice";
  currencyCode: number | null;
  currency: string | null;
  blocks: PriceBlock[];
}

export interface MessageEvent extends EventBase {
  kind: "message";
  /** Message id as the device sent it (hex string), or null for an empty message fragment. */
  messageId: string | null;
  text: string;
  confirmationRequired: boolean;
  confirmed: boolean;
  queue: string | null;
  priority: string | null;
  startTimeMs: number | null;
  durationS: number | null;
}

export interface TimeEvent extends EventBase {
  kind: "time";
  utcTimeMs: number | null;
  /** Meter wall-clock seconds since 2000-01-01 expressed as if UTC; informational only. */
  localTimeMs: number | null;
}

export type JoinStatus =
  | "Initializing"
  | "Network Discovery"
  | "Joining"
  | "Join: Fail"
  | "Join: Success"
  | "Authenticating"
  | "Authenticating: Success"
  | "Authenticating: Fail"
  | "Connected"
  | "Disconnected"
  | "Rejoining";

export interface ConnectionEvent extends EventBase {
  kind: "connection";
  /** `ConnectionStatus` or `NetworkInfo` (meter is `CoordMacId` for the latter). */
  status: string;
  connected: boolean;
  description: string | null;
  statusCode: number | null;
  extPanId: string | null;
  channel: number | null;
  shortAddr: string | null;
  linkStrengthPercent: number | null;
}

export interface DeviceInfoEvent extends EventBase {
  kind: "deviceInfo";
  installCode: string | null;
  linkKey: string | null;
  firmwareVersion: string | null;
  hardwareVersion: string | null;
  imageType: string | null;
  manufacturer: string | null;
  modelId: string | null;
  /** ISO date (YYYY-MM-DD) from DateCode, null when filler or unparseable. */
  dateCodeDate: string | null;
  dateCodeLot: string | null;
}

export interface MeterListEvent extends EventBase {
  kind: "meterList";
  meters: string[];
}

export interface MeterInfoEvent extends EventBase {
  kind: "meterInfo";
  meterType: string | null;
  nickName: string | null;
  account: string | null;
  auth: string | null;
  host: string | null;
  enabled: boolean | null;
}

export interface ScheduleEvent extends EventBase {
  kind: "schedule";
  event: string | null;
  /** Null when disabled (`0xffffffff`). */
  frequencyS: number | null;
  enabled: boolean | null;
}

export interface PeriodUsageEvent extends EventBase {
  kind: "periodUsage";
  /** `current` for CurrentPeriodUsage, `last` for LastPeriodUsage. */
  period: "current" | "last";
  usageWh: number;
  startTimeMs: number | null;
  endTimeMs: number | null;
}

/** `ProfileData` Status codes (manual p.29); anything else is reported as it came. */
export const PROFILE_STATUS = {
  ok: 0,
  undefinedChannel: 1,
  channelNotSupported: 2,
  invalidEndTime: 3,
  tooManyPeriods: 4,
  noIntervals: 5,
} as const;

export interface ProfileDataEvent extends EventBase {
  kind: "profile";
  /** End of the newest interval delivered. */
  endTimeMs: number | null;
  /** See {@link PROFILE_STATUS}. */
  status: number;
  intervalS: number | null;
  /**
   * Raw interval counts, newest first; null where the device marked an interval invalid
   * (`0xFFFFFF`) or the value was refused. Empty when the fragment's counts disagree.
   */
  intervals: (number | null)[];
  /**
   * The same intervals in Wh, scaled with the Multiplier/Divisor of the meter's last summation
   * fragment; null where the raw count is null, implausible once scaled, or no summation of the
   * meter has been seen yet (nothing to scale with).
   */
  intervalsWh: (number | null)[];
}

export interface FastPollEvent extends EventBase {
  kind: "fastPoll";
  frequencyS: number | null;
  endTimeMs: number | null;
}

export interface DeviceWarningEvent extends EventBase {
  kind: "deviceWarning";
  text: string;
}

/** A well-formed fragment whose root tag no decoder knows (debug tables, future firmware). */
export interface UnknownEvent extends EventBase {
  kind: "unknown";
  /** Raw child texts by element name (first occurrence), for logs and debugging. */
  fields?: Record<string, string>;
}

export type MeterEvent =
  | DemandEvent
  | SummationEvent
  | PriceEvent
  | BlockPriceEvent
  | MessageEvent
  | TimeEvent
  | ConnectionEvent
  | DeviceInfoEvent
  | MeterListEvent
  | MeterInfoEvent
  | ScheduleEvent
  | PeriodUsageEvent
  | ProfileDataEvent
  | FastPollEvent
  | DeviceWarningEvent
  | UnknownEvent;

export type MeterEventKind = MeterEvent["kind"];

/** Link state of one configured port, as the supervisor reports it. */
export type LinkState = "connecting" | "initializing" | "connected" | "disconnected" | "closed";
