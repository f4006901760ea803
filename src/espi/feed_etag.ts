/**
 * The entity tag of an ESPI feed, computed from what the feed is made of without building it: the
 * caller's scope (grant or owner), the request's path and query, the base URL and time zone, and
 * for each usage point the stored facts already read to open it (first/last seen, oldest/newest
 * interval, interval length, currency, exports), its gap-repair revision and the current interval
 * of its served length (the window moves and a demand bucket completes on interval boundaries).
 * A new reading moves `lastSeenMs`, a repair the revision, pruning the oldest interval; the hour
 * is in it too, for the LocalTimeParameters entry (DST rules around now) even of an empty feed.
 *
 * Weak (RFC 9110 §8.8.1): two feeds with one tag may differ in their generation time stamps
 * (`<updated>` of the feed) and in content coding, never in their data.
 *
 * The tag is an HMAC under a key drawn at start, so it says nothing about the data: another
 * caller cannot tell from it when a meter last reported, and as the scope is part of the input a
 * tag of one grant never matches another's feed.
 *
 * @module
 */

import { createHmac, randomBytes } from "node:crypto";
import { intervalRevision } from "../store/export_cursor.ts";
import type { EspiContext, FeedScope, UsagePointView } from "./usage_point_view.ts";

const HOUR_MS = 3_600_000;

/** Per process: tags change on restart (one full answer each), and cannot be recomputed outside. */
const KEY = randomBytes(32);

/** The weak ETag of a feed of `views` seen through `scope` at `url`. */
export function feedEtag(
  espi: EspiContext,
  scope: FeedScope,
  views: readonly UsagePointView[],
  url: URL,
): string {
  const hmac = createHmac("sha256", KEY);
  hmac.update(JSON.stringify([
    url.pathname,
    url.search,
    espi.resourceBaseUrl,
    espi.timeZone,
    Math.floor(espi.nowMs / HOUR_MS),
    scope.prefix,
    scope.usagePointIds,
    scope.intervalDurationS,
    scope.historyLengthS,
    [...scope.grantedData].sort(),
    ...views.map((view) => [
      view.usagePointId,
      view.facts,
      view.intervalS,
      view.fromMs,
      Math.floor(espi.nowMs / (view.intervalS * 1000)),
      intervalRevision(espi.db, view.meterKey),
    ]),
  ]));
  return `W/"${hmac.digest("base64url").slice(0, 27)}"`;
}
