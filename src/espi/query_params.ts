/**
 * The ESPI query parameters of a resource request (`published-min/max`, `updated-min/max`,
 * `max-results`, `start-index`, `depth`), validated: a malformed value is an `HttpError` 400
 * rather than being ignored, so a client never silently gets more data than it asked for.
 *
 * Times are RFC 3339 date-times (`2024-06-01T00:00:00Z`, offset or `Z` required). `depth` is
 * treated as OpenESPI does: another cap on the number of entries.
 *
 * @module
 */

import { HttpError } from "../http/errors.ts";

export interface EspiQuery {
  /** Interval data starting at or after / before these (ms); other entries are kept. */
  publishedMinMs: number | null;
  publishedMaxMs: number | null;
  /** Interval data ending at or after / before these (ms). */
  updatedMinMs: number | null;
  updatedMaxMs: number | null;
  /** 1-based index of the first entry returned. */
  startIndex: number;
  /** Most entries returned (the smaller of `max-results` and `depth`); null = all. */
  maxEntries: number | null;
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;
const COUNT = /^\d{1,9}$/;

function badParameter(name: string, value: string): HttpError {
  return new HttpError(400, "invalid_request", `malformed ${name}: '${value.slice(0, 64)}'`);
}

function dateTime(params: URLSearchParams, name: string): number | null {
  const value = params.get(name);
  if (value === null) return null;
  const ms = DATE_TIME.test(value) ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) throw badParameter(name, value);
  return ms;
}

function count(params: URLSearchParams, name: string, min: number): number | null {
  const value = params.get(name);
  if (value === null) return null;
  if (!COUNT.test(value) || Number(value) < min) throw badParameter(name, value);
  return Number(value);
}

/** Parses the query; throws `HttpError` 400 on a malformed or repeated parameter. */
export function parseEspiQuery(url: URL): EspiQuery {
  const params = url.searchParams;
  for (const name of PARAMETERS) {
    if (params.getAll(name).length > 1) {
      throw new HttpError(400, "invalid_request", `${name} given more than once`);
    }
  }
  const query: EspiQuery = {
    publishedMinMs: dateTime(params, "published-min"),
    publishedMaxMs: dateTime(params, "published-max"),
    updatedMinMs: dateTime(params, "updated-min"),
    updatedMaxMs: dateTime(params, "updated-max"),
    startIndex: count(params, "start-index", 1) ?? 1,
    maxEntries: null,
  };
  const caps = [count(params, "max-results", 0), count(params, "depth", 0)]
    .filter((cap): cap is number => cap !== null);
  if (caps.length > 0) query.maxEntries = Math.min(...caps);
  return query;
}

const PARAMETERS = [
  "published-min",
  "published-max",
  "updated-min",
  "updated-max",
  "max-results",
  "start-index",
  "depth",
] as const;

/** The page of `entries` the query selects. */
export function page<T>(entries: T[], query: EspiQuery): T[] {
  const start = query.startIndex - 1;
  return entries.slice(start, query.maxEntries === null ? undefined : start + query.maxEntries);
}
