/**
 * ESPI LocalTimeParameters from an IANA time zone: the standard offset, the DST offset, and the
 * DST start/end rules as the bitmaps ESPI defines (espi.xsd `DstRuleType`):
 *
 * bits 0-11 seconds, 12-16 hour, 17-19 day of week (1 = Monday … 7 = Sunday), 20-24 day of month,
 * 25-27 operator (0 fixed day, 1 weekday on/after day, 2-6 1st-5th weekday, 7 last weekday),
 * 28-31 month; `FFFFFFFF` = no DST.
 *
 * The rule is recovered from the zone's actual transitions (via `Intl`) over several years, so
 * it follows whatever tzdata the runtime ships: US Eastern gives `360E2000`/`B40E2000` (second
 * Sunday of March, first Sunday of November, 02:00), the samples' values. The hour is the local
 * wall-clock time just before the change.
 *
 * @module
 */

export interface LocalTimeParameters {
  /** Standard (winter) offset from UTC, seconds. */
  tzOffsetS: number;
  /** Added during DST, seconds; 0 without DST. */
  dstOffsetS: number;
  /** Eight upper-case hex digits. */
  dstStartRule: string;
  dstEndRule: string;
}

const NO_DST = "FFFFFFFF";
const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;
/** Years the recovered rule must hold for: a rule that changes is not expressible. */
const YEARS_CHECKED = 7;

const formatters = new Map<string, Intl.DateTimeFormat>();
const parametersCache = new Map<string, LocalTimeParameters>();

/** Building an `Intl.DateTimeFormat` costs far more than using one: one per zone. */
function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-US", { timeZone, timeZoneName: "longOffset" });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** Offset of `timeZone` from UTC at `timeMs`, seconds. Throws RangeError on an unknown zone. */
export function utcOffsetS(timeZone: string, timeMs: number): number {
  const name =
    formatterFor(timeZone).formatToParts(timeMs).find((part) => part.type === "timeZoneName")
      ?.value ?? "GMT";
  const match = /^GMT(?:([+-])(\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(name);
  if (!match) throw new RangeError(`cannot read the UTC offset of ${timeZone}: ${name}`);
  if (!match[1]) return 0;
  const seconds = Number(match[2]) * 3600 + Number(match[3]) * 60 + Number(match[4] ?? 0);
  return match[1] === "-" ? -seconds : seconds;
}

/** The instant (ms) the offset changes inside (loMs, hiMs], given it differs at both ends. */
function transitionMs(timeZone: string, loMs: number, hiMs: number): number {
  const before = utcOffsetS(timeZone, loMs);
  while (hiMs - loMs > 1000) {
    const midMs = Math.floor((loMs + hiMs) / 2000) * 1000;
    if (utcOffsetS(timeZone, midMs) === before) loMs = midMs;
    else hiMs = midMs;
  }
  return hiMs;
}

interface Transition {
  /** Local wall-clock fields just before the change (the pre-change offset applied). */
  month: number;
  day: number;
  /** 1 = Monday … 7 = Sunday. */
  weekday: number;
  secondsOfDay: number;
  daysInMonth: number;
  toDst: boolean;
}

/** Offset changes in `year`, scanned week by week (DST periods last months). */
function transitions(timeZone: string, year: number, standardS: number): Transition[] {
  const found: Transition[] = [];
  let previousMs = Date.UTC(year, 0, 1);
  let previousS = utcOffsetS(timeZone, previousMs);
  const endMs = Date.UTC(year + 1, 0, 1);
  for (let probeMs = previousMs + WEEK_MS; previousMs < endMs; probeMs += WEEK_MS) {
    probeMs = Math.min(probeMs, endMs);
    const offsetS = utcOffsetS(timeZone, probeMs);
    if (offsetS !== previousS) {
      const atMs = transitionMs(timeZone, previousMs, probeMs);
      const local = new Date(atMs + previousS * 1000);
      found.push({
        month: local.getUTCMonth() + 1,
        day: local.getUTCDate(),
        weekday: local.getUTCDay() === 0 ? 7 : local.getUTCDay(),
        secondsOfDay: (atMs + previousS * 1000) % DAY_MS / 1000,
        daysInMonth: new Date(Date.UTC(year, local.getUTCMonth() + 1, 0)).getUTCDate(),
        toDst: offsetS > standardS,
      });
    }
    previousMs = probeMs;
    previousS = offsetS;
  }
  return found;
}

function encodeRule(
  rule: { month: number; operator: number; day: number; weekday: number; secondsOfDay: number },
): string {
  const hour = Math.floor(rule.secondsOfDay / 3600);
  const bits = (rule.month << 28) | (rule.operator << 25) | (rule.day << 20) |
    (rule.weekday << 17) | (hour << 12) | (rule.secondsOfDay % 3600);
  return (bits >>> 0).toString(16).toUpperCase().padStart(8, "0");
}

/** The one rule that describes every year's transition, preferring the n-th/last weekday forms. */
function ruleFor(yearly: Transition[]): string | null {
  const first = yearly[0];
  const same = (pick: (t: Transition) => number) => yearly.every((t) => pick(t) === pick(first));
  if (!same((t) => t.month) || !same((t) => t.secondsOfDay)) return null;
  const base = { month: first.month, secondsOfDay: first.secondsOfDay };
  if (same((t) => t.weekday)) {
    // "Last" first: a last Sunday that fell on the 4th Sunday in every checked year is still a
    // last-Sunday rule (Chatham, late September).
    if (yearly.every((t) => t.day + 7 > t.daysInMonth)) {
      return encodeRule({ ...base, operator: 7, day: 0, weekday: first.weekday });
    }
    const occurrence = (t: Transition) => Math.ceil(t.day / 7);
    if (same(occurrence)) {
      return encodeRule({
        ...base,
        operator: occurrence(first) + 1,
        day: 0,
        weekday: first.weekday,
      });
    }
    const earliest = Math.min(...yearly.map((t) => t.day));
    if (yearly.every((t) => t.day - earliest < 7)) {
      return encodeRule({ ...base, operator: 1, day: earliest, weekday: first.weekday });
    }
  }
  if (same((t) => t.day)) return encodeRule({ ...base, operator: 0, day: first.day, weekday: 0 });
  return null;
}

/**
 * LocalTimeParameters for `timeZone` around `nowMs`. A zone without DST (or whose transitions no
 * single ESPI rule describes) gets `FFFFFFFF` rules and its current offset.
 */
export function localTimeParameters(timeZone: string, nowMs: number): LocalTimeParameters {
  const year = new Date(nowMs).getUTCFullYear();
  const cacheKey = `${timeZone} ${year}`;
  const cached = parametersCache.get(cacheKey);
  if (cached) return cached;
  const parameters = computeParameters(timeZone, year, nowMs);
  parametersCache.set(cacheKey, parameters);
  return parameters;
}

/** The rules scan a few years of transitions: about 1500 offset look-ups, hence the cache. */
function computeParameters(timeZone: string, year: number, nowMs: number): LocalTimeParameters {
  const offsets: number[] = [];
  for (
    let monthMs = Date.UTC(year, 0, 15);
    monthMs < Date.UTC(year + 1, 0, 1);
    monthMs += 30 * DAY_MS
  ) {
    offsets.push(utcOffsetS(timeZone, monthMs));
  }
  const standardS = Math.min(...offsets);
  const dstOffsetS = Math.max(...offsets) - standardS;
  const noDst = {
    tzOffsetS: utcOffsetS(timeZone, nowMs),
    dstOffsetS: 0,
    dstStartRule: NO_DST,
    dstEndRule: NO_DST,
  };
  if (dstOffsetS === 0) return noDst;
  const starts: Transition[] = [];
  const ends: Transition[] = [];
  for (let y = year; y < year + YEARS_CHECKED; y++) {
    const found = transitions(timeZone, y, standardS);
    if (found.length !== 2) return noDst;
    for (const t of found) (t.toDst ? starts : ends).push(t);
  }
  const dstStartRule = starts.length === YEARS_CHECKED ? ruleFor(starts) : null;
  const dstEndRule = ends.length === YEARS_CHECKED ? ruleFor(ends) : null;
  if (!dstStartRule || !dstEndRule) return noDst;
  return { tzOffsetS: standardS, dstOffsetS, dstStartRule, dstEndRule };
}

/** Wall-clock start of the local day containing `timeMs`, as a UTC instant (ms). */
export function localDayStartMs(timeZone: string, timeMs: number): number {
  const offsetMs = utcOffsetS(timeZone, timeMs) * 1000;
  const midnightLocal = Math.floor((timeMs + offsetMs) / DAY_MS) * DAY_MS;
  // The offset at midnight may differ from the one at `timeMs` on a DST change day.
  return midnightLocal - utcOffsetS(timeZone, midnightLocal - offsetMs) * 1000;
}
