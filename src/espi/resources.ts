/**
 * ESPI resource content: the `espi:` XML inside an Atom `<content>` (or a bare root for
 * ServiceStatus), one function per resource, elements in espi.xsd sequence order. Times are Unix
 * seconds (`TimeType`), energy Wh with powerOfTenMultiplier 0, cost in hundred-thousandths of the
 * currency.
 *
 * Whatever the store holds, the feed stays schema-valid: a number outside its element's XSD type
 * (Int48 values and costs, UInt16 currencies) is left out, and every such element is optional.
 *
 * Inputs are plain values; reading the store and the access rules live elsewhere.
 *
 * @module
 */

import {
  ESPI_INT48,
  ESPI_UINT16,
  isPlausible,
  type PlausibleRange,
} from "../radio/plausible_range.ts";
import { escapeXml } from "./atom.ts";
import type { ReadingTypeFields } from "./channels.ts";
import type { LocalTimeParameters } from "./local_time.ts";

/** One IntervalReading. */
export interface ReadingValue {
  startS: number;
  durationS: number;
  value: number;
  /** Hundred-thousandths of the currency; omitted when null. */
  cost: number | null;
  /** ESPI QualityOfReading; omitted when null (valid). */
  quality: number | null;
}

const el = (name: string, value: string | number) => `<espi:${name}>${value}</espi:${name}>`;

/** The element when `value` is an integer of the XSD type `range`, else nothing. */
function typedEl(name: string, value: number | null, range: PlausibleRange): string {
  return value !== null && Number.isInteger(value) && isPlausible(value, range)
    ? el(name, value)
    : "";
}

const int48El = (name: string, value: number | null) => typedEl(name, value, ESPI_INT48);
const interval = (name: string, startS: number, durationS: number) =>
  `<espi:${name}>${el("duration", durationS)}${el("start", startS)}</espi:${name}>`;

export function usagePointXml(): string {
  // ServiceCategory kind 0 = electricity.
  return "<espi:UsagePoint><espi:ServiceCategory><espi:kind>0</espi:kind>" +
    "</espi:ServiceCategory></espi:UsagePoint>";
}

export function meterReadingXml(): string {
  return "<espi:MeterReading/>";
}

export function readingTypeXml(fields: ReadingTypeFields): string {
  return "<espi:ReadingType>" +
    el("accumulationBehaviour", fields.accumulationBehaviour) +
    el("commodity", fields.commodity) +
    typedEl("currency", fields.currency ?? null, ESPI_UINT16) +
    el("dataQualifier", fields.dataQualifier) +
    el("flowDirection", fields.flowDirection) +
    el("intervalLength", fields.intervalLength) +
    el("kind", fields.kind) +
    el("phase", fields.phase) +
    el("powerOfTenMultiplier", fields.powerOfTenMultiplier) +
    el("timeAttribute", fields.timeAttribute) +
    el("uom", fields.uom) +
    "</espi:ReadingType>";
}

/** An IntervalBlock spanning its readings (which must be non-empty and in time order). */
export function intervalBlockXml(readings: ReadingValue[]): string {
  const first = readings[0];
  const last = readings[readings.length - 1];
  const parts = [
    "<espi:IntervalBlock>",
    interval("interval", first.startS, last.startS + last.durationS - first.startS),
  ];
  for (const reading of readings) {
    parts.push(
      "<espi:IntervalReading>" +
        int48El("cost", reading.cost) +
        (reading.quality === null
          ? ""
          : `<espi:ReadingQuality><espi:quality>${reading.quality}</espi:quality></espi:ReadingQuality>`) +
        `<espi:timePeriod><espi:duration>${reading.durationS}</espi:duration>` +
        `<espi:start>${reading.startS}</espi:start></espi:timePeriod>` +
        int48El("value", reading.value) + "</espi:IntervalReading>",
    );
  }
  parts.push("</espi:IntervalBlock>");
  return parts.join("");
}

export interface UsageSummaryValues {
  startS: number;
  durationS: number;
  /** Total cost of the period, null when not fully priced. */
  costHundredThousandths: number | null;
  currencyCode: number | null;
  deliveredWh: number;
  /** Window end, the time the consumption total refers to. */
  endS: number;
  peakDemand: { demandW: number; atS: number } | null;
  /** Worst QualityOfReading of the period. */
  quality: number;
  statusS: number;
}

const measurement = (name: string, uom: number, value: number, timeStampS: number) =>
  `<espi:${name}>${el("powerOfTenMultiplier", 0)}${el("timeStamp", timeStampS)}${el("uom", uom)}${
    int48El("value", value)
  }</espi:${name}>`;

/** UsageSummary (ESPI 4.0 name of ElectricPowerUsageSummary) for the served window. */
export function usageSummaryXml(summary: UsageSummaryValues): string {
  return "<espi:UsageSummary>" +
    interval("billingPeriod", summary.startS, summary.durationS) +
    int48El("billToDate", summary.costHundredThousandths) +
    typedEl("currency", summary.currencyCode, ESPI_UINT16) +
    measurement("currentBillingPeriodOverAllConsumption", 72, summary.deliveredWh, summary.endS) +
    (summary.peakDemand === null
      ? ""
      : measurement("peakDemand", 38, summary.peakDemand.demandW, summary.peakDemand.atS)) +
    el("qualityOfReading", summary.quality) +
    el("statusTimeStamp", summary.statusS) +
    el("commodity", 1) +
    "</espi:UsageSummary>";
}

export function localTimeParametersXml(parameters: LocalTimeParameters): string {
  return "<espi:LocalTimeParameters>" +
    el("dstEndRule", parameters.dstEndRule) +
    el("dstOffset", parameters.dstOffsetS) +
    el("dstStartRule", parameters.dstStartRule) +
    el("tzOffset", parameters.tzOffsetS) +
    "</espi:LocalTimeParameters>";
}

/** What ApplicationInformation shows; secrets are never shown (see the README). */
export interface ApplicationValues {
  dataCustodianId: string;
  clientId: string;
  clientName: string;
  redirectUris: string[];
  /** The app's registered notify URI; null when it registered none. */
  notifyUri: string | null;
  scopes: string[];
  issuedAtS: number;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  bulkRequestUri: string;
  resourceEndpoint: string;
  registrationClientUri: string;
  softwareVersion: string;
}

export function applicationInformationXml(app: ApplicationValues): string {
  const many = (name: string, values: string[]) =>
    values.map((value) => el(name, escapeXml(value))).join("");
  return "<espi:ApplicationInformation>" +
    el("dataCustodianId", escapeXml(app.dataCustodianId)) +
    // 3 = production.
    el("dataCustodianApplicationStatus", 3) +
    // ESPI requires a notify URI; an app that registered none gets its first redirect URI's origin.
    el(
      "thirdPartyNotifyUri",
      escapeXml(app.notifyUri ?? new URL(app.redirectUris[0]).origin + "/"),
    ) +
    el("authorizationServerAuthorizationEndpoint", escapeXml(app.authorizationEndpoint)) +
    el("authorizationServerTokenEndpoint", escapeXml(app.tokenEndpoint)) +
    el("dataCustodianBulkRequestURI", escapeXml(app.bulkRequestUri)) +
    el("dataCustodianResourceEndpoint", escapeXml(app.resourceEndpoint)) +
    // Only the hash of the secret is kept: the element is required, so it is sent empty.
    "<espi:client_secret/>" +
    el("client_name", escapeXml(app.clientName)) +
    many("redirect_uri", app.redirectUris) +
    el("client_id", escapeXml(app.clientId)) +
    el("software_id", "openseg") +
    el("software_version", escapeXml(app.softwareVersion)) +
    el("client_id_issued_at", app.issuedAtS) +
    // 0 = the secret does not expire.
    el("client_secret_expires_at", 0) +
    el("token_endpoint_auth_method", "client_secret_basic") +
    many("scope", app.scopes) +
    el("grant_types", "authorization_code") +
    el("grant_types", "client_credentials") +
    el("grant_types", "refresh_token") +
    el("response_types", "code") +
    el("registration_client_uri", escapeXml(app.registrationClientUri)) +
    // The caller holds the token already; it is not stored in clear text.
    "<espi:registration_access_token/>" +
    "</espi:ApplicationInformation>";
}

export interface AuthorizationValues {
  authorizedFromS: number;
  /** Seconds the authorization has lasted so far (or lasted, if revoked). */
  authorizedDurationS: number;
  /** The data it reaches back to (its scope's HistoryLength up to now); null: all stored data. */
  publishedPeriod: { startS: number; durationS: number } | null;
  active: boolean;
  /** Expiry of the newest access token (0 when none). */
  expiresAtS: number;
  scope: string;
  resourceUri: string;
  authorizationUri: string;
}

export function authorizationXml(authorization: AuthorizationValues): string {
  return "<espi:Authorization>" +
    interval("authorizedPeriod", authorization.authorizedFromS, authorization.authorizedDurationS) +
    (authorization.publishedPeriod === null ? "" : interval(
      "publishedPeriod",
      authorization.publishedPeriod.startS,
      authorization.publishedPeriod.durationS,
    )) +
    // AuthorizationStatus: 1 = active, 0 = revoked.
    el("status", authorization.active ? 1 : 0) +
    el("expires_at", authorization.expiresAtS) +
    el("grant_type", "authorization_code") +
    el("scope", escapeXml(authorization.scope)) +
    el("token_type", "Bearer") +
    el("resourceURI", escapeXml(authorization.resourceUri)) +
    el("authorizationURI", escapeXml(authorization.authorizationUri)) +
    // No customerResourceURI: it names a PII (customer.xsd) subscription, and no grant here
    // includes customer data. The household is tied to the authorization by where the entry is
    // listed (RetailCustomer/{id}/Authorization) and by resourceURI, whose Subscription shows
    // only that household's meters; the app's own view carries no customer id, as the XSD asks.
    "</espi:Authorization>";
}

/** ServiceStatus content (without the root element): 1 = the data custodian is available. */
export function serviceStatusInnerXml(available: boolean): string {
  return el("currentStatus", available ? 1 : 0);
}

/** BatchList content (without the root element) for notifications. */
export function batchListInnerXml(resourceUris: string[]): string {
  return resourceUris.map((uri) => el("resources", escapeXml(uri))).join("");
}
