/**
 * What a caller may see of one usage point: which meter, at what resolution, over which window,
 * which MeterReadings, and whether costs, the summary and its peak are shown. The grant is applied
 * here, once, for every path that reads data:
 * - resolution: never finer than `intervalDurationS`. Stored intervals are summed to the smallest
 *   multiple of their length at or above it that divides a day; beyond a day the request is
 *   refused;
 * - history: nothing that starts before `now - historyLengthS`;
 * - usage points: only the granted ones;
 * - data: only the kinds its function blocks grant (`src/auth/granted_data.ts`, the table GraphQL
 *   enforces too). A MeterReading of a kind not granted is not published at all, cost and currency
 *   are left out without `COST`, the UsageSummary without `USAGE_SUMMARY` and its peak demand
 *   without `PEAK_DEMAND`. Leaving out optional elements keeps every document valid ESPI.
 *
 * The readings of a view are in `usage_point_readings.ts`, its Atom entries in
 * `usage_point_entries.ts`.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import type { GrantedData } from "../auth/granted_data.ts";
import { DEFAULT_NATIVE_INTERVAL_S, servedIntervalS } from "../auth/read_policy.ts";
import {
  type MeterFeedFacts,
  meterFeedFacts,
  type PricedInterval,
} from "../store/interval_reads.ts";
import { meterKeyForUsagePoint } from "../store/usage_points.ts";
import { type Channel, channelsFor } from "./channels.ts";
import type { EspiQuery } from "./query_params.ts";

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
    facts.nativeIntervalS ?? DEFAULT_NATIVE_INTERVAL_S,
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
