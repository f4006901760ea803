/**
 * Event building: the parsed fields of one fragment → the typed {@link MeterEvent} its kind
 * stands for (prices with their currency, date codes, profile intervals checked as a whole).
 *
 * @module
 */

import type { MeterEvent, PriceBlock } from "../events.ts";
import { PROFILE_PERIODS } from "../plausible_range.ts";
import type { FieldValues } from "./field_values.ts";
import { currencyAlpha } from "../currency.ts";
import { type FragmentDef, PROFILE_INTERVAL_S } from "./fields.ts";

function iso(year: number, month: number, day: number): string | null {
  const d = new Date(Date.UTC(year, month - 1, day));
  return d.getUTCFullYear() === year && d.getUTCMonth() === month - 1 && d.getUTCDate() === day
    ? d.toISOString().slice(0, 10)
    : null;
}

const DATE_CODE = /^(\d{4})(\d{2})(\d{2})(.*)$/s;
const FILLER = /^\u00ff*$/;

/** `DateCode` = `YYYYMMDD` + lot; sixteen 0xFF bytes are a known EMU-2 filler, not an error. */
function dateCode(
  text: string | null,
  warnings: string[],
): { date: string | null; lot: string | null } {
  if (text === null || FILLER.test(text)) return { date: null, lot: null };
  const m = DATE_CODE.exec(text);
  const date = m ? iso(Number(m[1]), Number(m[2]), Number(m[3])) : null;
  if (!m || date === null) {
    warnings.push(`DateCode: no YYYYMMDD date in "${text}"`);
    return { date: null, lot: null };
  }
  return { date, lot: m[4] === "" ? null : m[4] };
}

function checkUnit(values: FieldValues, warnings: string[]): void {
  const unit = values.num("UnitOfMeasure");
  if (unit !== null && unit !== 0) {
    warnings.push(`UnitOfMeasure: 0x${unit.toString(16)} is not kW/kWh; value decoded as kW/kWh`);
  }
}

function price(raw: number | null, trailingDigits: number): number | null {
  return raw === null ? null : raw / 10 ** trailingDigits;
}

/** The event of fragment `def` from its parsed fields `v`. */
export function buildEvent(def: FragmentDef, v: FieldValues, warnings: string[]): MeterEvent {
  const base = {
    fragment: def.root,
    device: v.str("DeviceMacId"),
    meter: v.str("MeterMacId"),
    timeMs: v.num("TimeStamp"),
  };
  switch (def.kind) {
    case "demand":
      checkUnit(v, warnings);
      return {
        ...base,
        kind: "demand",
        demandW: v.num("Demand"),
        digitsRight: v.num("DigitsRight"),
      };
    case "summation":
      checkUnit(v, warnings);
      return {
        ...base,
        kind: "summation",
        summationDeliveredWh: v.num("SummationDelivered")!,
        summationReceivedWh: v.num("SummationReceived"),
        digitsRight: v.num("DigitsRight"),
      };
    case "price": {
      const currencyCode = v.num("Currency");
      return {
        ...base,
        kind: "price",
        pricePerKWh: price(v.num("Price"), v.num("TrailingDigits") ?? 0),
        currencyCode,
        currency: currencyCode === null ? null : currencyAlpha(currencyCode),
        tier: v.num("Tier"),
        label: v.str("RateLabel") ?? v.str("TierLabel"),
        startTimeMs: v.num("StartTime"),
        durationS: v.num("Duration"),
      };
    }
    case "blockPrice": {
      const currencyCode = v.num("Currency");
      const trailingDigits = v.num("TrailingDigits") ?? 0;
      const thresholds = v.list("Threshold");
      const blocks: PriceBlock[] = [];
      for (const p of v.list("Price")) {
        if (typeof p.value !== "number") continue;
        const t = thresholds.find((e) => e.n === p.n)?.value;
        blocks.push({
          thresholdWh: typeof t === "number" ? t : null,
          pricePerKWh: p.value / 10 ** trailingDigits,
        });
      }
      return {
        ...base,
        kind: "blockPrice",
        currencyCode,
        currency: currencyCode === null ? null : currencyAlpha(currencyCode),
        blocks,
      };
    }
    case "message":
      return {
        ...base,
        kind: "message",
        messageId: v.str("Id"),
        text: v.str("Text") ?? "",
        confirmationRequired: v.bool("ConfirmationRequired") ?? false,
        confirmed: v.bool("Confirmed") ?? false,
        queue: v.str("Queue"),
        priority: v.str("Priority"),
        startTimeMs: v.num("StartTime"),
        durationS: v.num("Duration"),
      };
    case "time":
      return {
        ...base,
        timeMs: v.num("UTCTime"),
        kind: "time",
        utcTimeMs: v.num("UTCTime"),
        localTimeMs: v.num("LocalTime"),
      };
    case "connection": {
      const status = v.str("Status")!;
      return {
        ...base,
        meter: base.meter ?? v.str("CoordMacId"),
        kind: "connection",
        status,
        connected: status.toLowerCase() === "connected",
        description: v.str("Description"),
        statusCode: v.num("StatusCode"),
        extPanId: v.str("ExtPanId"),
        channel: v.num("Channel"),
        shortAddr: v.str("ShortAddr"),
        linkStrengthPercent: v.num("LinkStrength"),
      };
    }
    case "deviceInfo": {
      const { date, lot } = dateCode(v.str("DateCode"), warnings);
      return {
        ...base,
        kind: "deviceInfo",
        installCode: v.str("InstallCode"),
        linkKey: v.str("LinkKey"),
        firmwareVersion: v.str("FWVersion"),
        hardwareVersion: v.str("HWVersion"),
        imageType: v.str("ImageType"),
        manufacturer: v.str("Manufacturer"),
        modelId: v.str("ModelId"),
        dateCodeDate: date,
        dateCodeLot: lot,
      };
    }
    case "meterList":
      return {
        ...base,
        meter: null,
        kind: "meterList",
        meters: v.list("MeterMacId").flatMap((e) => typeof e.value === "string" ? [e.value] : []),
      };
    case "meterInfo":
      return {
        ...base,
        kind: "meterInfo",
        meterType: v.str("MeterType"),
        nickName: v.str("NickName"),
        account: v.str("Account"),
        auth: v.str("Auth"),
        host: v.str("Host"),
        enabled: v.bool("Enabled"),
      };
    case "schedule":
      return {
        ...base,
        kind: "schedule",
        event: v.str("Event"),
        frequencyS: v.num("Frequency"),
        enabled: v.bool("Enabled"),
      };
    case "periodUsage": {
      const last = def.root === "LastPeriodUsage";
      return {
        ...base,
        kind: "periodUsage",
        period: last ? "last" : "current",
        usageWh: v.num(last ? "LastUsage" : "CurrentUsage")!,
        startTimeMs: v.num("StartDate"),
        endTimeMs: v.num("EndDate"),
      };
    }
    case "profile": {
      const period = v.num("ProfileIntervalPeriod");
      const intervalS = period === null ? null : PROFILE_INTERVAL_S[period] ?? null;
      if (period !== null && intervalS === null) {
        warnings.push(`ProfileIntervalPeriod: unknown period ${period}`);
      }
      const intervals = profileIntervals(v, warnings);
      return {
        ...base,
        timeMs: v.num("EndTime"),
        kind: "profile",
        endTimeMs: v.num("EndTime"),
        status: v.num("Status")!,
        intervalS,
        intervals,
        intervalsWh: intervals.map(() => null),
      };
    }
    case "fastPoll":
      return {
        ...base,
        kind: "fastPoll",
        frequencyS: v.num("Frequency"),
        endTimeMs: v.num("EndTime"),
      };
    case "deviceWarning":
      return { ...base, kind: "deviceWarning", text: v.str("Text") ?? "" };
    case "unknown":
      return { ...base, kind: "unknown" };
  }
}

/**
 * The IntervalData of a ProfileData, newest first, or none when the fragment cannot be trusted: a
 * value refused (whatever garbled one may have garbled its neighbours; `0xFFFFFF` is the meter's
 * own "invalid" and only that interval's), a NumberOfPeriodsDelivered that disagrees with the
 * values sent or was refused, more than 12 values, or values with a failure Status. A fragment
 * without the count (some EAGLE bodies) is taken at its values.
 */
function profileIntervals(v: FieldValues, warnings: string[]): (number | null)[] {
  const values = v.list("IntervalData").map((e) => typeof e.value === "number" ? e.value : null);
  if (values.length === 0) return values;
  const refused = v.errors?.has("NumberOfPeriodsDelivered") ?? false;
  const delivered = v.num("NumberOfPeriodsDelivered");
  const status = v.num("Status");
  let problem: string | null = null;
  if (v.errors?.has("IntervalData")) problem = "a value refused";
  else if (refused) problem = "NumberOfPeriodsDelivered refused";
  else if (delivered !== null && delivered !== values.length) {
    problem = `NumberOfPeriodsDelivered is ${delivered} but ${values.length} sent`;
  } else if (values.length > PROFILE_PERIODS.max) problem = `${values.length} sent, at most 12`;
  else if (status !== 0) problem = `Status ${status} with ${values.length} IntervalData`;
  if (problem === null) return values;
  warnings.push(`IntervalData: ${problem}; all discarded`);
  return [];
}
