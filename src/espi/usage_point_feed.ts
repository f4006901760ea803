/**
 * One usage point seen through a grant: which meter, at what resolution, over which window, and
 * the Atom entries of its resources (UsagePoint, MeterReadings, ReadingTypes, IntervalBlocks,
 * UsageSummary) with a consistent self/up/related link graph.
 *
 * The grant is enforced here, once, for every path that reads data:
 * - resolution: never finer than `intervalDurationS`. Stored intervals are summed to the smallest
 *   multiple of their length at or above it that divides a day; beyond a day the request is
 *   refused;
 * - history: nothing that starts before `now - historyLengthS`;
 * - usage points: only the granted ones (checked by the caller of `openUsagePoint`);
 * - data: only the kinds its function blocks grant (`src/auth/granted_data.ts`, the table GraphQL
 *   enforces too). A MeterReading of a kind not granted is not published at all, cost and currency
 *   are left out without `COST`, the UsageSummary without `USAGE_SUMMARY` and its peak demand
 *   without `PEAK_DEMAND`. Leaving out optional elements keeps every document valid ESPI.
 *
 * Interval data is grouped into one IntervalBlock per local day of the configured time zone; the
 * block id is the day's start in Unix seconds, stable for as long as the data is kept.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import type { GrantedData } from "../auth/granted_data.ts";
import { QUALITY_CODES } from "../store/migrations.ts";
import {
  demandAverages,
  type MeterFeedFacts,
  meterFeedFacts,
  peakDemandW,
  type PricedInterval,
  pricedIntervals,
  registerSamples,
} from "../store/interval_reads.ts";
import { meterKeyForUsagePoint } from "../store/usage_points.ts";
import type { AtomEntry } from "./atom.ts";
import { type Channel, channelsFor, readingTypeId } from "./channels.ts";
import { localDayStartMs, localTimeParameters } from "./local_time.ts";
import type { EspiQuery } from "./query_params.ts";
import {
  intervalBlockXml,
  localTimeParametersXml,
  meterReadingXml,
  readingTypeXml,
  type ReadingValue,
  usagePointXml,
  usageSummaryXml,
} from "./resources.ts";

/** What every ESPI handler works with. */
export interface EspiContext {
  db: DatabaseSync;
  /** `https://host/espi/1_1/resource` (no trailing slash). */
  resourceBaseUrl: string;
  timeZone: string;
  nowMs: number;
}

/** Which data a caller may see, from a grant or the owner's session. */
export interface FeedScope {
  /** Path under the resource base naming the collection: `Subscription/{id}`, `RetailCustomer/{id}`. */
  prefix: string;
  usagePointIds: readonly string[];
  /** Finest interval the caller may see, seconds; null = the stored resolution. */
  intervalDurationS: number | null;
  /** How far back the caller may read, seconds; null = everything stored. */
  historyLengthS: number | null;
  /** The kinds of data the caller may see (the owner: all of them). */
  grantedData: ReadonlySet<GrantedData>;
}

export interface UsagePointView {
  usagePointId: string;
  meterKey: string;
  facts: MeterFeedFacts;
  /** Interval length served, seconds. */
  intervalS: number;
  /** Interval data starts in [fromMs, toMs). */
  fromMs: number;
  toMs: number;
  /** The MeterReadings published: those the meter has and the grant includes. */
  channels: Channel[];
  /** The scope's kinds of data: whether costs, the summary and its peak are shown. */
  grantedData: ReadonlySet<GrantedData>;
  /** `…/{prefix}/UsagePoint/{id}`. */
  href: string;
  /** Priced intervals, read once per view (two channels and the summary use them). */
  intervals?: PricedInterval[];
}

export type OpenResult =
  | { ok: true; view: UsagePointView }
  | { ok: false; reason: "notGranted" | "notFound" | "intervalRefused" };

/** Stored interval length assumed before the first interval exists (the ingest default). */
const DEFAULT_NATIVE_S = 300;
const DAY_S = 86_400;
const HOUR_MS = 3_600_000;

/**
 * The interval length served for a grant: the stored length, or the smallest multiple of it that
 * is at least the granted length and divides a day (so buckets never straddle days unevenly).
 */
export function servedIntervalS(nativeS: number, grantedS: number | null): number | null {
  if (grantedS === null || grantedS <= nativeS) return nativeS;
  for (
    let intervalS = Math.ceil(grantedS / nativeS) * nativeS;
    intervalS <= DAY_S;
    intervalS += nativeS
  ) {
    if (DAY_S % intervalS === 0) return intervalS;
  }
  return null;
}

/** Opens a granted usage point with the grant's resolution and window applied. */
export function openUsagePoint(
  context: EspiContext,
  scope: FeedScope,
  query: EspiQuery,
  usagePointId: string,
): OpenResult {
  if (!scope.usagePointIds.includes(usagePointId)) return { ok: false, reason: "notGranted" };
  const meterKey = meterKeyForUsagePoint(context.db, usagePointId);
  const facts = meterKey === null ? null : meterFeedFacts(context.db, meterKey);
  if (meterKey === null || facts === null) return { ok: false, reason: "notFound" };
  const intervalS = servedIntervalS(
    facts.nativeIntervalS ?? DEFAULT_NATIVE_S,
    scope.intervalDurationS,
  );
  if (intervalS === null) return { ok: false, reason: "intervalRefused" };
  const intervalMs = intervalS * 1000;
  const bounds = [-Infinity];
  if (scope.historyLengthS !== null) {
    // Whole intervals only: the first one starts at or after the history limit.
    bounds.push(Math.ceil((context.nowMs - scope.historyLengthS * 1000) / intervalMs) * intervalMs);
  }
  if (query.publishedMinMs !== null) bounds.push(query.publishedMinMs);
  if (query.updatedMinMs !== null) bounds.push(query.updatedMinMs - intervalMs);
  const ends = [context.nowMs];
  if (query.publishedMaxMs !== null) ends.push(query.publishedMaxMs);
  if (query.updatedMaxMs !== null) ends.push(query.updatedMaxMs - intervalMs);
  return {
    ok: true,
    view: {
      usagePointId,
      meterKey,
      facts,
      intervalS,
      fromMs: Math.max(...bounds, 0),
      toMs: Math.min(...ends),
      channels: channelsFor(facts.exports, scope.grantedData),
      grantedData: scope.grantedData,
      href: `${context.resourceBaseUrl}/${scope.prefix}/UsagePoint/${usagePointId}`,
    },
  };
}

/** The currency of the view's costs; null when it has none or the grant does not include cost. */
export function costCurrencyCode(view: UsagePointView): number | null {
  return view.grantedData.has("COST") ? view.facts.currencyCode : null;
}

/** ESPI QualityOfReading of a stored quality code; null (omitted) for valid data. */
function espiQuality(code: number): number | null {
  if (code === QUALITY_CODES.valid) return null;
  // 9: spread linearly over a gap between register readings; 10: failed a check.
  return code === QUALITY_CODES.estimated ? 9 : 10;
}

function intervalsOf(context: EspiContext, view: UsagePointView): PricedInterval[] {
  view.intervals ??= pricedIntervals(context.db, {
    meterKey: view.meterKey,
    fromMs: view.fromMs,
    toMs: view.toMs,
    nativeS: view.facts.nativeIntervalS ?? DEFAULT_NATIVE_S,
    intervalS: view.intervalS,
  });
  return view.intervals;
}

/** The IntervalReadings of one channel over the view's window, oldest first. */
export function channelReadings(
  context: EspiContext,
  view: UsagePointView,
  channel: Channel,
): ReadingValue[] {
  const { intervalS } = view;
  const window = { meterKey: view.meterKey, fromMs: view.fromMs, toMs: view.toMs, intervalS };
  switch (channel.name) {
    case "energyDelivered":
    case "energyReceived": {
      const delivered = channel.name === "energyDelivered";
      const priced = delivered && view.grantedData.has("COST");
      return intervalsOf(context, view).map((row) => ({
        startS: row.startMs / 1000,
        durationS: intervalS,
        value: Math.round(delivered ? row.deliveredWh : row.receivedWh),
        cost: priced ? row.costHundredThousandths : null,
        quality: espiQuality(row.qualityCode),
      }));
    }
    case "demand":
      return demandAverages(context.db, window)
        // A bucket still filling is not an interval average yet.
        .filter((row) => row.bucketStartMs + intervalS * 1000 <= context.nowMs)
        .map((row) => ({
          startS: row.bucketStartMs / 1000,
          durationS: intervalS,
          value: Math.round(row.avgW),
          cost: null,
          quality: null,
        }));
    case "registerDelivered":
    case "registerReceived": {
      const readings: ReadingValue[] = [];
      for (const sample of registerSamples(context.db, window)) {
        const wh = channel.name === "registerDelivered" ? sample.deliveredWh : sample.receivedWh;
        if (wh === null) continue;
        readings.push({
          startS: sample.intervalStartMs / 1000,
          durationS: intervalS,
          value: Math.round(wh),
          cost: null,
          quality: null,
        });
      }
      return readings;
    }
  }
}

/** Readings grouped by local day; `id` is the day's start in Unix seconds. */
export function dailyBlocks(
  timeZone: string,
  readings: ReadingValue[],
): { id: string; readings: ReadingValue[] }[] {
  const blocks: { id: string; readings: ReadingValue[] }[] = [];
  let nextDayMs = -Infinity;
  for (const reading of readings) {
    const startMs = reading.startS * 1000;
    if (startMs >= nextDayMs) {
      const dayMs = localDayStartMs(timeZone, startMs);
      // 26 h later is always inside the next day, whether days have 23, 24 or 25 hours.
      nextDayMs = localDayStartMs(timeZone, dayMs + 26 * HOUR_MS);
      blocks.push({ id: String(dayMs / 1000), readings: [] });
    }
    blocks[blocks.length - 1].readings.push(reading);
  }
  return blocks;
}

const link = (rel: "self" | "up" | "related", href: string) => ({ rel, href });

export function usagePointEntry(context: EspiContext, view: UsagePointView): AtomEntry {
  const base = context.resourceBaseUrl;
  return {
    key: `UsagePoint/${view.usagePointId}`,
    // Generic on purpose: a meter's nickname or MAC may identify the household.
    title: "Electricity usage point",
    links: [
      link("self", view.href),
      link("up", view.href.slice(0, view.href.lastIndexOf("/"))),
      link("related", `${view.href}/MeterReading`),
      ...(view.grantedData.has("USAGE_SUMMARY")
        ? [link("related", `${view.href}/UsageSummary`)]
        : []),
      link("related", `${base}/LocalTimeParameters/${LOCAL_TIME_PARAMETERS_ID}`),
    ],
    contentXml: usagePointXml(),
    publishedMs: view.facts.firstSeenMs,
    updatedMs: view.facts.lastSeenMs,
  };
}

export function readingTypeIdOf(view: UsagePointView, channel: Channel): string {
  return readingTypeId(channel, view.intervalS, costCurrencyCode(view));
}

export function meterReadingEntry(
  context: EspiContext,
  view: UsagePointView,
  channel: Channel,
): AtomEntry {
  const href = `${view.href}/MeterReading/${channel.meterReadingId}`;
  return {
    key: `UsagePoint/${view.usagePointId}/MeterReading/${channel.meterReadingId}`,
    title: channel.title,
    links: [
      link("self", href),
      link("up", `${view.href}/MeterReading`),
      link("related", `${href}/IntervalBlock`),
      link("related", `${context.resourceBaseUrl}/ReadingType/${readingTypeIdOf(view, channel)}`),
    ],
    contentXml: meterReadingXml(),
    publishedMs: view.facts.firstSeenMs,
    updatedMs: Math.min(view.facts.lastSeenMs, context.nowMs),
  };
}

/** A ReadingType entry; `publishedMs` is when the gateway first had such data. */
export function readingTypeEntry(
  context: EspiContext,
  options: {
    channel: Channel;
    intervalS: number;
    currencyCode: number | null;
    publishedMs: number;
  },
): AtomEntry {
  const id = readingTypeId(options.channel, options.intervalS, options.currencyCode);
  return {
    key: `ReadingType/${id}`,
    title: options.channel.title,
    links: [
      link("self", `${context.resourceBaseUrl}/ReadingType/${id}`),
      link("up", `${context.resourceBaseUrl}/ReadingType`),
    ],
    contentXml: readingTypeXml(options.channel.fields(options.intervalS, options.currencyCode)),
    publishedMs: options.publishedMs,
    updatedMs: options.publishedMs,
  };
}

export function intervalBlockEntry(
  view: UsagePointView,
  channel: Channel,
  block: { id: string; readings: ReadingValue[] },
): AtomEntry {
  const collection = `${view.href}/MeterReading/${channel.meterReadingId}/IntervalBlock`;
  const first = block.readings[0];
  const last = block.readings[block.readings.length - 1];
  return {
    key: `UsagePoint/${view.usagePointId}/MeterReading/${channel.meterReadingId}` +
      `/IntervalBlock/${block.id}/${view.intervalS}`,
    title: "",
    links: [link("self", `${collection}/${block.id}`), link("up", collection)],
    contentXml: intervalBlockXml(block.readings),
    publishedMs: first.startS * 1000,
    updatedMs: (last.startS + last.durationS) * 1000,
  };
}

/** IntervalBlock entries of one channel, one per local day. */
export function intervalBlockEntries(
  context: EspiContext,
  view: UsagePointView,
  channel: Channel,
): AtomEntry[] {
  return dailyBlocks(context.timeZone, channelReadings(context, view, channel))
    .map((block) => intervalBlockEntry(view, channel, block));
}

export const USAGE_SUMMARY_ID = "1";
export const LOCAL_TIME_PARAMETERS_ID = "1";

/**
 * The UsageSummary of the served window; null when there is no interval data in it or the grant
 * includes no usage summary.
 */
export function usageSummaryEntry(context: EspiContext, view: UsagePointView): AtomEntry | null {
  if (!view.grantedData.has("USAGE_SUMMARY")) return null;
  const intervals = intervalsOf(context, view);
  if (intervals.length === 0) return null;
  const startMs = intervals[0].startMs;
  const endMs = intervals[intervals.length - 1].startMs + view.intervalS * 1000;
  let deliveredWh = 0;
  let cost: number | null = view.grantedData.has("COST") ? 0 : null;
  let worst: number = QUALITY_CODES.valid;
  for (const row of intervals) {
    deliveredWh += row.deliveredWh;
    cost = cost === null || row.costHundredThousandths === null
      ? null
      : cost + row.costHundredThousandths;
    worst = Math.max(worst, row.qualityCode);
  }
  const peak = view.grantedData.has("PEAK_DEMAND")
    ? peakDemandW(context.db, { meterKey: view.meterKey, fromMs: startMs, toMs: endMs })
    : null;
  const href = `${view.href}/UsageSummary`;
  return {
    key: `UsagePoint/${view.usagePointId}/UsageSummary/${view.intervalS}`,
    title: "Usage summary",
    links: [link("self", `${href}/${USAGE_SUMMARY_ID}`), link("up", href)],
    contentXml: usageSummaryXml({
      startS: startMs / 1000,
      durationS: (endMs - startMs) / 1000,
      costHundredThousandths: cost,
      currencyCode: cost === null ? null : intervals[0].currencyCode,
      deliveredWh: Math.round(deliveredWh),
      endS: endMs / 1000,
      peakDemand: peak === null
        ? null
        : { demandW: Math.round(peak.demandW), atS: Math.floor(peak.atMs / 1000) },
      // 0 valid; 13 mixed when some intervals were estimated or questionable.
      quality: worst === QUALITY_CODES.valid ? 0 : 13,
      statusS: Math.floor(context.nowMs / 1000),
    }),
    publishedMs: endMs,
    updatedMs: endMs,
  };
}

export function localTimeParametersEntry(context: EspiContext): AtomEntry {
  const base = context.resourceBaseUrl;
  return {
    key: `LocalTimeParameters/${context.timeZone}`,
    title: "Local time parameters",
    links: [
      link("self", `${base}/LocalTimeParameters/${LOCAL_TIME_PARAMETERS_ID}`),
      link("up", `${base}/LocalTimeParameters`),
    ],
    contentXml: localTimeParametersXml(localTimeParameters(context.timeZone, context.nowMs)),
    publishedMs: context.nowMs,
    updatedMs: context.nowMs,
  };
}

/** Every entry of one usage point, in the order of the Batch feeds. */
export function usagePointTreeEntries(context: EspiContext, view: UsagePointView): AtomEntry[] {
  const entries = [usagePointEntry(context, view)];
  for (const channel of view.channels) {
    entries.push(meterReadingEntry(context, view, channel));
    entries.push(readingTypeEntry(context, {
      channel,
      intervalS: view.intervalS,
      currencyCode: costCurrencyCode(view),
      publishedMs: view.facts.firstSeenMs,
    }));
    entries.push(...intervalBlockEntries(context, view, channel));
  }
  const summary = usageSummaryEntry(context, view);
  if (summary !== null) entries.push(summary);
  return entries;
}
