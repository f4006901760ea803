/**
 * The RAVEn/EMU-2/EAGLE fragment field table: for every notification root tag, which children it
 * may carry, how each child's text is encoded and what unit its value has. `decode.ts` parses
 * children only through this table, so it is the one place to look up or change a field's type.
 * Element names are matched case-insensitively; a child not listed here is ignored. The bounds a
 * value must lie in come from `../plausible_range.ts`; a value outside them is refused.
 *
 * @module
 */

import type { MeterEventKind } from "../events.ts";
import {
  DEMAND_W,
  ISO_4217_NUMERIC,
  LINK_STRENGTH_PERCENT,
  type PlausibleRange,
  PRICE_TRAILING_DIGITS,
  PROFILE_PERIODS,
  REGISTER_WH,
  ZCL_UINT24,
  ZCL_UINT32,
  ZCL_UINT48,
  ZCL_UINT8,
  ZIGBEE_CHANNEL,
} from "../plausible_range.ts";

/** How a child's text is encoded on the wire. */
export type FieldKind =
  /** `0x…` identifier (MAC, key, address), kept as a lower-case string as wide as sent. */
  | "id"
  /** `0x…` unsigned integer (any width, value up to 2^53) → number. */
  | "hex"
  /** `0x…` unsigned integer up to 64 bits (ZigBee uint48 summations) → number, or bigint above 2^53. */
  | "uint64"
  /** `0x…` demand: more than 6 digits → int32, else int24 sign-extended; `0x800000` → null. */
  | "demand"
  /** Plain decimal integer (`Channel`, `ProfileIntervalPeriod`). */
  | "dec"
  /** `0x…` seconds since 2000-01-01T00:00:00Z → Unix ms; `0xffffffff` → null. */
  | "ts"
  /** `Y` / `N` → boolean. */
  | "yn"
  /** Free text with XML entities decoded. */
  | "text";

/**
 * Unit of the value once parsed. `kW`/`kWh` values are scaled by the fragment's Multiplier and
 * Divisor (0 meaning 1) and converted to W/Wh; `min` values are converted to seconds.
 */
export type FieldUnit = "kW" | "kWh" | "s" | "min" | "%";

/** One child element of a fragment. */
export interface FieldDef {
  /** Element name as the devices write it. */
  name: string;
  kind: FieldKind;
  unit?: FieldUnit;
  /** Raw values meaning "not set" (e.g. `0xffff` durations); they decode to null. */
  unset?: readonly number[];
  /** May occur several times (`MeterMacId` in MeterList); values are collected in order. */
  repeated?: boolean;
  /** Also matches the name followed by a number (`IntervalData1`, `Price2`); implies repeated. */
  numbered?: boolean;
  /** Without a usable value the fragment cannot become an event. */
  required?: boolean;
  /** Plausible raw values (after `unset`); anything else is refused with a warning. */
  range?: PlausibleRange;
  /** Plausible values once scaled to W/Wh (`kW`/`kWh` fields); anything else is refused. */
  scaledRange?: PlausibleRange;
  /**
   * The fragment's numbers are scaled with this value (Multiplier, Divisor, TrailingDigits): when
   * it is present but unusable, no number of the fragment can be trusted and it is refused whole.
   */
  scaling?: boolean;
}

/** One notification root tag. */
export interface FragmentDef {
  /** Root tag as the devices write it. */
  root: string;
  kind: MeterEventKind;
  fields: readonly FieldDef[];
}

const UNSET_U16 = [0xffff] as const;
const UNSET_U32 = [0xffffffff] as const;

const DEVICE: FieldDef = { name: "DeviceMacId", kind: "id" };
const METER: FieldDef = { name: "MeterMacId", kind: "id" };
const TIME_STAMP: FieldDef = { name: "TimeStamp", kind: "ts" };
const CURRENCY: FieldDef = { name: "Currency", kind: "hex", range: ISO_4217_NUMERIC };
const TRAILING_DIGITS: FieldDef = {
  name: "TrailingDigits",
  kind: "hex",
  range: PRICE_TRAILING_DIGITS,
  scaling: true,
};
const MULTIPLIER: FieldDef = { name: "Multiplier", kind: "hex", range: ZCL_UINT24, scaling: true };
const DIVISOR: FieldDef = { name: "Divisor", kind: "hex", range: ZCL_UINT24, scaling: true };

/** A ZigBee uint48 register: kWh after Multiplier/Divisor, stored as Wh. */
function register(name: string, required = false): FieldDef {
  return {
    name,
    kind: "uint64",
    unit: "kWh",
    range: ZCL_UINT48,
    scaledRange: REGISTER_WH,
    required,
  };
}

/** Multiplier/Divisor and the display hints that come with every metered value. */
const SCALING: readonly FieldDef[] = [
  MULTIPLIER,
  DIVISOR,
  { name: "DigitsRight", kind: "hex" },
  { name: "DigitsLeft", kind: "hex" },
  { name: "SuppressLeadingZero", kind: "yn" },
  // EAGLE-200 only; 0x00 = kW/kWh.
  { name: "UnitOfMeasure", kind: "hex" },
];

const NETWORK: readonly FieldDef[] = [
  { name: "Status", kind: "text", required: true },
  { name: "Description", kind: "text" },
  { name: "StatusCode", kind: "hex" },
  { name: "ExtPanId", kind: "id" },
  { name: "Channel", kind: "dec", range: ZIGBEE_CHANNEL },
  { name: "ShortAddr", kind: "id" },
  { name: "LinkStrength", kind: "hex", unit: "%", range: LINK_STRENGTH_PERCENT },
];

const SUMMATION: readonly FieldDef[] = [
  DEVICE,
  METER,
  TIME_STAMP,
  register("SummationDelivered", true),
  register("SummationReceived"),
  ...SCALING,
];

/** Every notification the decoder knows. */
export const FRAGMENTS: readonly FragmentDef[] = [
  {
    root: "DeviceInfo",
    kind: "deviceInfo",
    fields: [
      DEVICE,
      { name: "InstallCode", kind: "id" },
      { name: "LinkKey", kind: "id" },
      { name: "FWVersion", kind: "text" },
      { name: "HWVersion", kind: "text" },
      { name: "ImageType", kind: "text" },
      { name: "Manufacturer", kind: "text" },
      { name: "ModelId", kind: "text" },
      // `YYYYMMDD` + 8-character lot, or sixteen 0xFF filler bytes on some EMU-2s.
      { name: "DateCode", kind: "text" },
    ],
  },
  { root: "ConnectionStatus", kind: "connection", fields: [DEVICE, METER, ...NETWORK] },
  {
    root: "NetworkInfo",
    kind: "connection",
    fields: [DEVICE, { name: "CoordMacId", kind: "id" }, ...NETWORK],
  },
  {
    root: "InstantaneousDemand",
    kind: "demand",
    fields: [
      DEVICE,
      METER,
      TIME_STAMP,
      { name: "Demand", kind: "demand", unit: "kW", scaledRange: DEMAND_W, required: true },
      ...SCALING,
    ],
  },
  { root: "CurrentSummationDelivered", kind: "summation", fields: SUMMATION },
  // EAGLE-200 name for the same fragment.
  { root: "CurrentSummation", kind: "summation", fields: SUMMATION },
  {
    root: "PriceCluster",
    kind: "price",
    fields: [
      DEVICE,
      METER,
      TIME_STAMP,
      // Price ÷ 10^TrailingDigits currency units per kWh; 0 means no price set.
      { name: "Price", kind: "hex", unset: [0, 0xffffffff], range: ZCL_UINT32, required: true },
      CURRENCY,
      TRAILING_DIGITS,
      { name: "Tier", kind: "hex" },
      { name: "TierLabel", kind: "text" },
      { name: "RateLabel", kind: "text" },
      { name: "StartTime", kind: "ts" },
      { name: "Duration", kind: "hex", unit: "min", unset: UNSET_U16 },
    ],
  },
  {
    root: "BlockPriceDetail",
    kind: "blockPrice",
    fields: [
      DEVICE,
      METER,
      TIME_STAMP,
      { name: "NumberOfBlocks", kind: "hex" },
      MULTIPLIER,
      DIVISOR,
      CURRENCY,
      TRAILING_DIGITS,
      // Thresholds scale like summations (inference); the last block's is 0xffffffff.
      {
        name: "Threshold",
        kind: "hex",
        unit: "kWh",
        unset: UNSET_U32,
        range: ZCL_UINT32,
        scaledRange: REGISTER_WH,
        numbered: true,
      },
      { name: "Price", kind: "hex", range: ZCL_UINT32, numbered: true },
    ],
  },
  {
    root: "MessageCluster",
    kind: "message",
    fields: [
      DEVICE,
      METER,
      TIME_STAMP,
      { name: "Id", kind: "id" },
      { name: "Text", kind: "text" },
      { name: "Priority", kind: "text" },
      { name: "StartTime", kind: "ts" },
      { name: "Duration", kind: "hex", unit: "min", unset: UNSET_U16 },
      { name: "ConfirmationRequired", kind: "yn" },
      { name: "Confirmed", kind: "yn" },
      { name: "Queue", kind: "text" },
    ],
  },
  {
    root: "TimeCluster",
    kind: "time",
    fields: [
      DEVICE,
      METER,
      { name: "UTCTime", kind: "ts" },
      // Meter wall clock counted like UTCTime; the host derives local time itself.
      { name: "LocalTime", kind: "ts" },
    ],
  },
  { root: "MeterList", kind: "meterList", fields: [DEVICE, { ...METER, repeated: true }] },
  {
    root: "MeterInfo",
    kind: "meterInfo",
    fields: [
      DEVICE,
      METER,
      { name: "MeterType", kind: "text" },
      { name: "NickName", kind: "text" },
      { name: "Account", kind: "text" },
      { name: "Auth", kind: "text" },
      { name: "Host", kind: "text" },
      { name: "Enabled", kind: "yn" },
    ],
  },
  {
    root: "ScheduleInfo",
    kind: "schedule",
    fields: [
      DEVICE,
      METER,
      { name: "Event", kind: "text" },
      { name: "Frequency", kind: "hex", unit: "s", unset: UNSET_U32 },
      { name: "Enabled", kind: "yn" },
    ],
  },
  {
    root: "CurrentPeriodUsage",
    kind: "periodUsage",
    fields: [
      DEVICE,
      METER,
      TIME_STAMP,
      register("CurrentUsage", true),
      ...SCALING,
      { name: "StartDate", kind: "ts" },
    ],
  },
  {
    root: "LastPeriodUsage",
    kind: "periodUsage",
    fields: [
      DEVICE,
      METER,
      TIME_STAMP,
      register("LastUsage", true),
      ...SCALING,
      { name: "StartDate", kind: "ts" },
      { name: "EndDate", kind: "ts" },
    ],
  },
  {
    root: "ProfileData",
    kind: "profile",
    fields: [
      DEVICE,
      METER,
      { name: "EndTime", kind: "ts" },
      // 0 ok, 1 undefined channel, 2 channel unsupported, 3 bad end time, 4 too many, 5 none.
      { name: "Status", kind: "hex", range: ZCL_UINT8, required: true },
      { name: "ProfileIntervalPeriod", kind: "dec" },
      // Checked against the IntervalData actually sent (`build_event.ts`).
      { name: "NumberOfPeriodsDelivered", kind: "hex", range: PROFILE_PERIODS },
      // Raw counts, newest first; EAGLE numbers them IntervalData1…12. No Multiplier/Divisor:
      // the adapter scales them with the meter's summation fragment (`profile_scale.ts`).
      { name: "IntervalData", kind: "hex", unset: [0xffffff], range: ZCL_UINT24, numbered: true },
    ],
  },
  {
    root: "FastPollStatus",
    kind: "fastPoll",
    fields: [
      DEVICE,
      METER,
      { name: "Frequency", kind: "hex", unit: "s" },
      { name: "EndTime", kind: "ts" },
    ],
  },
  { root: "Warning", kind: "deviceWarning", fields: [{ name: "Text", kind: "text" }] },
];

/** Fields read from fragments no decoder knows, so even those carry device, meter and time. */
export const COMMON_FIELDS: readonly FieldDef[] = [DEVICE, METER, TIME_STAMP];

/** `ProfileIntervalPeriod` enumeration → interval length in seconds. */
export const PROFILE_INTERVAL_S: readonly number[] = [86400, 3600, 1800, 900, 600, 450, 300, 150];

/** Seconds from the Unix epoch to the ZigBee epoch 2000-01-01T00:00:00Z. */
export const ZIGBEE_EPOCH_OFFSET_S = 946_684_800;

/** A `ts` field's "not set" value (and a schedule's "disabled" frequency). */
export const TS_UNSET = 0xffff_ffff;
