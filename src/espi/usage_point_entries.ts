/**
 * The Atom entries of a usage point view (UsagePoint, MeterReadings, ReadingTypes,
 * IntervalBlocks, UsageSummary, LocalTimeParameters) with a consistent self/up/related link
 * graph. What they may show comes from the view (`usage_point_view.ts`), their numbers from
 * `usage_point_readings.ts`.
 *
 * @module
 */

import { QUALITY_CODES } from "../store/migrations.ts";
import type { AtomEntry } from "./atom.ts";
import { type Channel, readingTypeId } from "./channels.ts";
import { localTimeParameters } from "./local_time.ts";
import {
  intervalBlockXml,
  localTimeParametersXml,
  meterReadingXml,
  readingTypeXml,
  type ReadingValue,
  usagePointXml,
  usageSummaryXml,
} from "./resources.ts";
import { channelReadings, dailyBlocks, usageTotals } from "./usage_point_readings.ts";
import { costCurrencyCode, type EspiContext, type UsagePointView } from "./usage_point_view.ts";

export const USAGE_SUMMARY_ID = "1";
export const LOCAL_TIME_PARAMETERS_ID = "1";

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

/**
 * The UsageSummary of the served window; null when there is no interval data in it or the grant
 * includes no usage summary.
 */
export function usageSummaryEntry(context: EspiContext, view: UsagePointView): AtomEntry | null {
  if (!view.grantedData.has("USAGE_SUMMARY")) return null;
  const totals = usageTotals(context, view);
  if (totals === null) return null;
  const { startMs, endMs, peak } = totals;
  const href = `${view.href}/UsageSummary`;
  return {
    key: `UsagePoint/${view.usagePointId}/UsageSummary/${view.intervalS}`,
    title: "Usage summary",
    links: [link("self", `${href}/${USAGE_SUMMARY_ID}`), link("up", href)],
    contentXml: usageSummaryXml({
      startS: startMs / 1000,
      durationS: (endMs - startMs) / 1000,
      costHundredThousandths: totals.costHundredThousandths,
      currencyCode: totals.currencyCode,
      deliveredWh: Math.round(totals.deliveredWh),
      endS: endMs / 1000,
      peakDemand: peak === null
        ? null
        : { demandW: Math.round(peak.demandW), atS: Math.floor(peak.atMs / 1000) },
      // 0 valid; 13 mixed when some intervals were estimated or questionable.
      quality: totals.worstQualityCode === QUALITY_CODES.valid ? 0 : 13,
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
