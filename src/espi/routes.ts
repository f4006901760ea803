/**
 * The ESPI 1.1 resource server under `/espi/1_1/resource/`: Batch/Subscription (the feed a
 * customer grants), the Subscription/UsagePoint/MeterReading/IntervalBlock tree, UsageSummary,
 * ReadingType, LocalTimeParameters, ApplicationInformation, Authorization, ReadServiceStatus and,
 * for the household signed in, its own RetailCustomer/{id}: Batch/RetailCustomer/{id}/UsagePoint
 * (Download My Data), the same usage point tree below RetailCustomer/{id}, and the authorizations
 * it granted (RetailCustomer/{id}/Authorization). Any other RetailCustomer id is a 404.
 *
 * Each handler takes the resolved `Caller`; `espiRoutes` resolves it from the request, and
 * `dispatchEspi` lets tests pass a constructed one. Collections answer with an Atom `<feed>`,
 * single resources with an `<entry>`, all `application/atom+xml`.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { findApp } from "../auth/apps.ts";
import { type AuthorizationRecord, listAuthorizations } from "../auth/authorizations.ts";
import type { Caller } from "../auth/caller.ts";
import { ESPI_RESOURCE_BASE } from "../auth/oauth_token.ts";
import { resolveCaller } from "../auth/resolve.ts";
import { parseScope } from "../auth/scope.ts";
import { accessTokenExpiryMs } from "../auth/tokens.ts";
import { ifNoneMatchHits, notModified } from "../http/conditional.ts";
import { acceptsGzip, compressResponse } from "../http/compress.ts";
import { HttpError, httpErrorResponse, jsonError } from "../http/errors.ts";
import type { HttpServices, Route, RouteContext } from "../http/routes.ts";
import {
  forbidden,
  requireApplication,
  requireCustomer,
  requireOwner,
  requireReader,
  requireSubscription,
  scopeOfGrant,
} from "./access.ts";
import { type AtomEntry, entryDocument, espiDocument, feedDocument } from "./atom.ts";
import { channelById, parseReadingTypeId } from "./channels.ts";
import { FeedCache } from "./feed_cache.ts";
import { feedEtag } from "./feed_etag.ts";
import { type EspiQuery, page, parseEspiQuery } from "./query_params.ts";
import { applicationInformationXml, authorizationXml, serviceStatusInnerXml } from "./resources.ts";
import {
  intervalBlockEntries,
  intervalBlockEntry,
  LOCAL_TIME_PARAMETERS_ID,
  localTimeParametersEntry,
  meterReadingEntry,
  readingTypeEntry,
  USAGE_SUMMARY_ID,
  usagePointEntry,
  usagePointTreeEntries,
  usageSummaryEntry,
} from "./usage_point_entries.ts";
import { channelReadings, dailyBlocks } from "./usage_point_readings.ts";
import {
  costCurrencyCode,
  type EspiContext,
  type FeedScope,
  openUsagePoint,
  type UsagePointView,
} from "./usage_point_view.ts";

/** A handler given the resolved caller. */
export type EspiHandler = (request: Request, context: RouteContext, caller: Caller) => Response;

export const ATOM_CONTENT_TYPE = "application/atom+xml";

const ATOM_HEADERS = { "Content-Type": `${ATOM_CONTENT_TYPE}; charset=utf-8` };

function atom(body: string): Response {
  return new Response(body, { headers: ATOM_HEADERS });
}

function espiContext(context: RouteContext): EspiContext {
  const { services } = context;
  return {
    db: services.db,
    resourceBaseUrl: `${services.publicBaseUrl}${ESPI_RESOURCE_BASE}`,
    timeZone: services.timeZone,
    nowMs: services.nowMs(),
  };
}

function notFound(what: string): HttpError {
  return new HttpError(404, "not_found", `no such ${what}`);
}

/** A feed of `entries` (paged by the query) whose self link is the request URL's path. */
function feedXml(
  espi: EspiContext,
  context: RouteContext,
  query: EspiQuery,
  title: string,
  entries: AtomEntry[],
): string {
  const path = context.url.pathname.slice(ESPI_RESOURCE_BASE.length + 1);
  return feedDocument({
    key: `feed/${path}`,
    title,
    selfHref: `${espi.resourceBaseUrl}/${path}`,
    updatedMs: espi.nowMs,
    entries: page(entries, query),
  });
}

function feed(...args: Parameters<typeof feedXml>): Response {
  return atom(feedXml(...args));
}

/** The request's feed scope: its access grant, or the owner's data under RetailCustomer. */
function scopeOf(context: RouteContext, caller: Caller): FeedScope {
  const { params } = context;
  if (params.retailCustomerId !== undefined) {
    return requireOwner(context.services.db, caller, params.retailCustomerId);
  }
  return scopeOfGrant(context.services.db, requireSubscription(caller, params.subscriptionId));
}

function view(
  espi: EspiContext,
  scope: FeedScope,
  query: EspiQuery,
  usagePointId: string | undefined,
): UsagePointView {
  const opened = openUsagePoint(espi, scope, query, usagePointId ?? "");
  if (opened.ok) return opened.view;
  switch (opened.reason) {
    case "notGranted":
    case "notFound":
      // Not the caller's looks exactly like not there.
      throw notFound("usage point");
    case "intervalRefused":
      throw forbidden("no interval length this gateway serves is as coarse as the grant requires");
  }
}

/** Every granted usage point that still exists (a removed meter simply drops out). */
function views(espi: EspiContext, scope: FeedScope, query: EspiQuery): UsagePointView[] {
  const opened: UsagePointView[] = [];
  for (const id of scope.usagePointIds) {
    const result = openUsagePoint(espi, scope, query, id);
    if (result.ok) opened.push(result.view);
    else if (result.reason === "intervalRefused") opened.push(view(espi, scope, query, id));
  }
  return opened;
}

function channelOf(context: RouteContext) {
  const channel = channelById(context.params.meterReadingId ?? "");
  if (channel === undefined) throw notFound("meter reading");
  return channel;
}

function publishedChannel(usagePoint: UsagePointView, context: RouteContext) {
  const channel = channelOf(context);
  if (!usagePoint.channels.includes(channel)) throw notFound("meter reading");
  return channel;
}

/**
 * Headers of the Batch feeds and their 304s: the answer depends on the credentials and is the
 * caller's own (no shared cache), and a client revalidates with its ETag instead of reusing it.
 */
const BATCH_CACHE_HEADERS = {
  Vary: "Accept-Encoding, Authorization",
  "Cache-Control": "private, no-cache",
};

/** One cache per database: tests run several gateways in one process. */
const batchFeedCaches = new WeakMap<DatabaseSync, FeedCache>();

function batchFeedCache(db: DatabaseSync): FeedCache {
  let cache = batchFeedCaches.get(db);
  if (cache === undefined) batchFeedCaches.set(db, cache = new FeedCache());
  return cache;
}

/**
 * The whole tree of a grant (or the owner's data). Its ETag comes from the facts read to open the
 * usage points, so a client holding the current one gets a 304 before any reading is read, and a
 * feed built under the same tag lately is sent again rather than rebuilt.
 */
const batchSubscription: EspiHandler = (request, context, caller) => {
  const espi = espiContext(context);
  const query = parseEspiQuery(context.url);
  const scope = scopeOf(context, caller);
  const opened = views(espi, scope, query);
  const etag = feedEtag(espi, scope, opened, context.url);
  if (ifNoneMatchHits(request.headers.get("if-none-match"), etag)) {
    return notModified(etag, BATCH_CACHE_HEADERS);
  }
  const cache = batchFeedCache(espi.db);
  let xml = cache.get(etag);
  if (xml === undefined) {
    const entries = [localTimeParametersEntry(espi)];
    for (const usagePoint of opened) entries.push(...usagePointTreeEntries(espi, usagePoint));
    xml = feedXml(espi, context, query, "Green Button Usage Feed", entries);
    cache.set(etag, xml);
  }
  const response = atom(xml);
  for (const [name, value] of Object.entries({ ...BATCH_CACHE_HEADERS, ETag: etag })) {
    response.headers.set(name, value);
  }
  return response;
};

const usagePoints: EspiHandler = (_request, context, caller) => {
  const espi = espiContext(context);
  const query = parseEspiQuery(context.url);
  const entries = views(espi, scopeOf(context, caller), query)
    .map((usagePoint) => usagePointEntry(espi, usagePoint));
  return feed(espi, context, query, "Usage points", entries);
};

const usagePoint: EspiHandler = (_request, context, caller) => {
  const espi = espiContext(context);
  const query = parseEspiQuery(context.url);
  const scope = scopeOf(context, caller);
  return atom(
    entryDocument(usagePointEntry(espi, view(espi, scope, query, context.params.usagePointId))),
  );
};

const meterReadings: EspiHandler = (_request, context, caller) => {
  const espi = espiContext(context);
  const query = parseEspiQuery(context.url);
  const usagePoint = view(espi, scopeOf(context, caller), query, context.params.usagePointId);
  const entries = usagePoint.channels.map((channel) =>
    meterReadingEntry(espi, usagePoint, channel)
  );
  return feed(espi, context, query, "Meter readings", entries);
};

const meterReading: EspiHandler = (_request, context, caller) => {
  const espi = espiContext(context);
  const query = parseEspiQuery(context.url);
  const usagePoint = view(espi, scopeOf(context, caller), query, context.params.usagePointId);
  const channel = publishedChannel(usagePoint, context);
  return atom(entryDocument(meterReadingEntry(espi, usagePoint, channel)));
};

const intervalBlocks: EspiHandler = (_request, context, caller) => {
  const espi = espiContext(context);
  const query = parseEspiQuery(context.url);
  const usagePoint = view(espi, scopeOf(context, caller), query, context.params.usagePointId);
  const channel = publishedChannel(usagePoint, context);
  return feed(
    espi,
    context,
    query,
    "Interval blocks",
    intervalBlockEntries(espi, usagePoint, channel),
  );
};

const intervalBlock: EspiHandler = (_request, context, caller) => {
  const espi = espiContext(context);
  const query = parseEspiQuery(context.url);
  const usagePoint = view(espi, scopeOf(context, caller), query, context.params.usagePointId);
  const channel = publishedChannel(usagePoint, context);
  const block = dailyBlocks(espi.timeZone, channelReadings(espi, usagePoint, channel))
    .find((candidate) => candidate.id === context.params.intervalBlockId);
  if (block === undefined) throw notFound("interval block");
  return atom(entryDocument(intervalBlockEntry(usagePoint, channel, block)));
};

function summaryEntries(espi: EspiContext, usagePoint: UsagePointView): AtomEntry[] {
  const summary = usageSummaryEntry(espi, usagePoint);
  return summary === null ? [] : [summary];
}

const usageSummaries: EspiHandler = (_request, context, caller) => {
  const espi = espiContext(context);
  const query = parseEspiQuery(context.url);
  const usagePoint = view(espi, scopeOf(context, caller), query, context.params.usagePointId);
  return feed(espi, context, query, "Usage summary", summaryEntries(espi, usagePoint));
};

const usageSummary: EspiHandler = (_request, context, caller) => {
  const espi = espiContext(context);
  const query = parseEspiQuery(context.url);
  const usagePoint = view(espi, scopeOf(context, caller), query, context.params.usagePointId);
  const [summary] = summaryEntries(espi, usagePoint);
  if (summary === undefined || context.params.usageSummaryId !== USAGE_SUMMARY_ID) {
    throw notFound("usage summary");
  }
  return atom(entryDocument(summary));
};

/** `UsagePoint/{id}/UsageSummary`: answered under whichever grant includes the point. */
const rootUsageSummary: EspiHandler = (_request, context, caller) => {
  const espi = espiContext(context);
  const query = parseEspiQuery(context.url);
  const scope = requireReader(context.services.db, caller);
  const usagePoint = view(espi, scope, query, context.params.usagePointId);
  return feed(espi, context, query, "Usage summary", summaryEntries(espi, usagePoint));
};

const readingTypes: EspiHandler = (_request, context, caller) => {
  const espi = espiContext(context);
  const query = parseEspiQuery(context.url);
  const byId = new Map<string, AtomEntry>();
  for (const usagePoint of views(espi, requireReader(context.services.db, caller), query)) {
    for (const channel of usagePoint.channels) {
      const entry = readingTypeEntry(espi, {
        channel,
        intervalS: usagePoint.intervalS,
        currencyCode: costCurrencyCode(usagePoint),
        publishedMs: usagePoint.facts.firstSeenMs,
      });
      if (!byId.has(entry.key)) byId.set(entry.key, entry);
    }
  }
  return feed(espi, context, query, "Reading types", [...byId.values()]);
};

/** Any ReadingType id this gateway makes: they describe units, not anyone's data. */
const readingType: EspiHandler = (_request, context, caller) => {
  const espi = espiContext(context);
  requireReader(context.services.db, caller);
  const parsed = parseReadingTypeId(context.params.readingTypeId ?? "");
  if (parsed === null) throw notFound("reading type");
  return atom(entryDocument(readingTypeEntry(espi, { ...parsed, publishedMs: 0 })));
};

const localTimeParametersFeed: EspiHandler = (_request, context, caller) => {
  const espi = espiContext(context);
  const query = parseEspiQuery(context.url);
  requireReader(context.services.db, caller);
  return feed(espi, context, query, "Local time parameters", [localTimeParametersEntry(espi)]);
};

const localTimeParameters: EspiHandler = (_request, context, caller) => {
  const espi = espiContext(context);
  requireReader(context.services.db, caller);
  if (context.params.localTimeParametersId !== LOCAL_TIME_PARAMETERS_ID) {
    throw notFound("local time parameters");
  }
  return atom(entryDocument(localTimeParametersEntry(espi)));
};

const applicationInformation: EspiHandler = (_request, context, caller) => {
  const espi = espiContext(context);
  const clientId = requireApplication(caller, "registration");
  if (context.params.applicationId !== clientId) {
    throw forbidden("the token is not this application's registration token");
  }
  const app = findApp(espi.db, clientId);
  if (app === null) throw notFound("application");
  const origin = context.services.publicBaseUrl;
  const self = `${espi.resourceBaseUrl}/ApplicationInformation/${clientId}`;
  return atom(entryDocument({
    key: `ApplicationInformation/${clientId}`,
    title: app.name,
    links: [
      { rel: "self", href: self },
      { rel: "up", href: `${espi.resourceBaseUrl}/ApplicationInformation` },
    ],
    contentXml: applicationInformationXml({
      dataCustodianId: "openseg",
      clientId,
      clientName: app.name,
      redirectUris: app.redirectUris,
      notifyUri: app.notifyUri,
      scopes: app.scopes,
      issuedAtS: Math.floor(app.createdMs / 1000),
      authorizationEndpoint: `${origin}/oauth/authorize`,
      tokenEndpoint: `${origin}/oauth/token`,
      bulkRequestUri: `${espi.resourceBaseUrl}/Batch/Bulk`,
      resourceEndpoint: espi.resourceBaseUrl,
      registrationClientUri: self,
      softwareVersion: "0.1.0",
    }),
    publishedMs: app.createdMs,
    updatedMs: app.createdMs,
  }));
};

/**
 * One Authorization as an entry of `collectionHref`: the app's `Authorization` collection, or the
 * granting household's `RetailCustomer/{id}/Authorization`. Same resource, same Atom id in both.
 */
function authorizationEntry(
  espi: EspiContext,
  authorization: AuthorizationRecord,
  collectionHref: string,
  title: string,
): AtomEntry {
  const id = authorization.authorizationId;
  const subscription = `${espi.resourceBaseUrl}/Batch/Subscription/${authorization.subscriptionId}`;
  const endMs = authorization.revokedMs ?? espi.nowMs;
  const expiresMs = accessTokenExpiryMs(espi.db, id);
  const historyLengthS = parseScope(authorization.scope).historyLengthS;
  return {
    key: `Authorization/${id}`,
    title,
    links: [
      { rel: "self", href: `${collectionHref}/${id}` },
      { rel: "up", href: collectionHref },
      // The resource it authorizes, as ESPI links an access-token Authorization.
      { rel: "related", href: subscription },
    ],
    contentXml: authorizationXml({
      authorizedFromS: Math.floor(authorization.createdMs / 1000),
      authorizedDurationS: Math.max(0, Math.floor((endMs - authorization.createdMs) / 1000)),
      publishedPeriod: historyLengthS === null
        ? null
        : { startS: Math.floor(endMs / 1000) - historyLengthS, durationS: historyLengthS },
      active: authorization.status === "active",
      expiresAtS: expiresMs === null ? 0 : Math.floor(expiresMs / 1000),
      scope: authorization.scope,
      resourceUri: subscription,
      authorizationUri: `${espi.resourceBaseUrl}/Authorization/${id}`,
    }),
    publishedMs: authorization.createdMs,
    updatedMs: authorization.revokedMs ?? authorization.createdMs,
  };
}

/** An app's authorizations, from every household; no customer id in them (see resources.ts). */
function applicationAuthorizationEntries(espi: EspiContext, clientId: string): AtomEntry[] {
  const collection = `${espi.resourceBaseUrl}/Authorization`;
  return listAuthorizations(espi.db, { clientId }).reverse()
    .map((authorization) =>
      authorizationEntry(espi, authorization, collection, "Customer authorization")
    );
}

/** The authorizations a household granted, titled with each app's name. */
function customerAuthorizationEntries(espi: EspiContext, householdId: number): AtomEntry[] {
  const collection = `${espi.resourceBaseUrl}/RetailCustomer/${householdId}/Authorization`;
  return listAuthorizations(espi.db, { householdId }).reverse().map((authorization) =>
    authorizationEntry(
      espi,
      authorization,
      collection,
      findApp(espi.db, authorization.clientId)?.name ?? "Customer authorization",
    )
  );
}

/** The entry of `authorizationId` among `entries`; any other looks exactly like a missing one. */
function authorizationAmong(entries: AtomEntry[], authorizationId: string | undefined): Response {
  const entry = entries.find((candidate) => candidate.key === `Authorization/${authorizationId}`);
  if (entry === undefined) throw notFound("authorization");
  return atom(entryDocument(entry));
}

const authorizations: EspiHandler = (_request, context, caller) => {
  const espi = espiContext(context);
  const query = parseEspiQuery(context.url);
  const clientId = requireApplication(caller, "client");
  return feed(
    espi,
    context,
    query,
    "Authorizations",
    applicationAuthorizationEntries(espi, clientId),
  );
};

const authorization: EspiHandler = (_request, context, caller) => {
  const espi = espiContext(context);
  const clientId = requireApplication(caller, "client");
  return authorizationAmong(
    applicationAuthorizationEntries(espi, clientId),
    context.params.authorizationId,
  );
};

const customerAuthorizations: EspiHandler = (_request, context, caller) => {
  const espi = espiContext(context);
  const query = parseEspiQuery(context.url);
  const householdId = requireCustomer(espi.db, caller, context.params.retailCustomerId);
  return feed(
    espi,
    context,
    query,
    "Authorizations",
    customerAuthorizationEntries(espi, householdId),
  );
};

const customerAuthorization: EspiHandler = (_request, context, caller) => {
  const espi = espiContext(context);
  const householdId = requireCustomer(espi.db, caller, context.params.retailCustomerId);
  return authorizationAmong(
    customerAuthorizationEntries(espi, householdId),
    context.params.authorizationId,
  );
};

const readServiceStatus: EspiHandler = (_request, _context, caller) => {
  requireApplication(caller, "client");
  return atom(espiDocument("ServiceStatus", serviceStatusInnerXml(true)));
};

const R = ESPI_RESOURCE_BASE;
const TREE = "/UsagePoint/:usagePointId/MeterReading/:meterReadingId/IntervalBlock";

/** The usage point tree below a Subscription or RetailCustomer prefix. */
function tree(prefix: string): [string, EspiHandler][] {
  return [
    [`${prefix}/UsagePoint`, usagePoints],
    [`${prefix}/UsagePoint/:usagePointId`, usagePoint],
    [`${prefix}/UsagePoint/:usagePointId/MeterReading`, meterReadings],
    [`${prefix}/UsagePoint/:usagePointId/MeterReading/:meterReadingId`, meterReading],
    [`${prefix}${TREE}`, intervalBlocks],
    [`${prefix}${TREE}/:intervalBlockId`, intervalBlock],
    [`${prefix}/UsagePoint/:usagePointId/UsageSummary`, usageSummaries],
    [`${prefix}/UsagePoint/:usagePointId/UsageSummary/:usageSummaryId`, usageSummary],
  ];
}

/** Path pattern → handler, all GET. */
export const ESPI_HANDLERS: readonly [string, EspiHandler][] = [
  [`${R}/Batch/Subscription/:subscriptionId`, batchSubscription],
  ...tree(`${R}/Subscription/:subscriptionId`),
  [`${R}/Batch/RetailCustomer/:retailCustomerId/UsagePoint`, batchSubscription],
  ...tree(`${R}/RetailCustomer/:retailCustomerId`),
  [`${R}/RetailCustomer/:retailCustomerId/Authorization`, customerAuthorizations],
  [`${R}/RetailCustomer/:retailCustomerId/Authorization/:authorizationId`, customerAuthorization],
  [`${R}/UsagePoint/:usagePointId/UsageSummary`, rootUsageSummary],
  [`${R}/ReadingType`, readingTypes],
  [`${R}/ReadingType/:readingTypeId`, readingType],
  [`${R}/LocalTimeParameters`, localTimeParametersFeed],
  [`${R}/LocalTimeParameters/:localTimeParametersId`, localTimeParameters],
  [`${R}/ApplicationInformation/:applicationId`, applicationInformation],
  [`${R}/Authorization`, authorizations],
  [`${R}/Authorization/:authorizationId`, authorization],
  [`${R}/ReadServiceStatus`, readServiceStatus],
];

/** Runs a handler, turning a refusal into its JSON error response. */
function run(handler: EspiHandler, request: Request, context: RouteContext, caller: Caller) {
  try {
    return handler(request, context, caller);
  } catch (error) {
    if (error instanceof HttpError) return httpErrorResponse(error);
    throw error;
  }
}

/** Every answer gzipped when the client asks: XML shrinks to about a tenth. */
export const espiRoutes: Route[] = ESPI_HANDLERS.map(([path, handler]) => ({
  method: "GET",
  path,
  handler: async (request, context) => {
    const response = run(handler, request, context, resolveCaller(request, context.services));
    const vary = response.headers.get("vary");
    const compressed = await compressKept(request, response, batchFeedCache(context.services.db));
    // compressResponse appends Accept-Encoding, which the Batch feeds list already.
    if (vary !== null && /accept-encoding/i.test(vary)) compressed.headers.set("Vary", vary);
    return compressed;
  },
}));

/**
 * `compressResponse`, except that a Batch feed kept under its tag is gzipped once: its gzipped
 * bytes are kept next to it and sent again while the tag holds.
 */
async function compressKept(
  request: Request,
  response: Response,
  cache: FeedCache,
): Promise<Response> {
  const etag = response.status === 200 ? response.headers.get("etag") : null;
  const kept = etag === null ? undefined : cache.gzipped(etag);
  if (kept !== undefined && acceptsGzip(request.headers.get("accept-encoding"))) {
    await response.body?.cancel();
    const headers = new Headers(response.headers);
    headers.set("Content-Encoding", "gzip");
    headers.append("Vary", "Accept-Encoding");
    return new Response(kept, { status: 200, headers });
  }
  const compressed = await compressResponse(request, response);
  if (
    etag === null || compressed.headers.get("content-encoding") !== "gzip" ||
    cache.get(etag) === undefined
  ) {
    return compressed;
  }
  const gzipped = await compressed.bytes();
  cache.setGzipped(etag, gzipped);
  return new Response(gzipped, { status: 200, headers: compressed.headers });
}

const COMPILED = ESPI_HANDLERS.map(([path, handler]) => ({
  pattern: new URLPattern({ pathname: path }),
  handler,
}));

/** Routes a GET as the server would, with an already-resolved caller (handler-level tests). */
export function dispatchEspi(request: Request, services: HttpServices, caller: Caller): Response {
  const url = new URL(request.url);
  for (const { pattern, handler } of COMPILED) {
    const match = pattern.exec({ pathname: url.pathname });
    if (match === null) continue;
    const context = { url, params: match.pathname.groups, services, remoteAddr: "127.0.0.1" };
    return run(handler, request, context, caller);
  }
  return jsonError(404, "not_found", "no such resource");
}
