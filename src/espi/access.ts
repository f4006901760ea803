/**
 * Who may read which ESPI resource, by the token type ESPI assigns to it: the customer-granted
 * access token for its own Subscription (and the ReadingType/LocalTimeParameters it links to),
 * the client access token for Authorization and ReadServiceStatus, the registration token for
 * the app's own ApplicationInformation, and the owner's session for Download My Data. Which data a
 * grant shows comes from its function blocks (`src/auth/granted_data.ts`); the owner sees all.
 *
 * Refusals are `HttpError`s: 401 `invalid_token` (or a bare challenge without credentials) when
 * the caller is not authenticated, 403 `insufficient_scope` for a valid caller of the wrong kind
 * or outside its grant. The 403 does not say whether the other resource exists.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { bearerChallenge } from "../auth/resolve.ts";
import type { Caller, Grant } from "../auth/caller.ts";
import { ALL_GRANTED_DATA, grantedData } from "../auth/granted_data.ts";
import { HttpError } from "../http/errors.ts";
import { listMeters } from "../store/queries.ts";
import { usagePointIdFor } from "../store/usage_points.ts";
import type { FeedScope } from "./usage_point_view.ts";

/** The one retail customer of a gateway: its owner. */
export const OWNER_RETAIL_CUSTOMER_ID = "1";

export type CallerKind = Caller["kind"];

/** 401 for the unauthenticated, 403 for an authenticated caller of the wrong kind. */
export function refuse(caller: Caller, description: string): HttpError {
  if (caller.kind === "anonymous") {
    return caller.reason === "invalid_token"
      ? new HttpError(401, "invalid_token", "the token is unknown, expired or revoked", {
        "WWW-Authenticate": bearerChallenge("invalid_token"),
      })
      : new HttpError(401, "invalid_token", "authentication required", {
        "WWW-Authenticate": bearerChallenge(),
      });
  }
  return forbidden(description);
}

export function forbidden(description: string): HttpError {
  return new HttpError(403, "insufficient_scope", description, {
    "WWW-Authenticate": bearerChallenge("insufficient_scope", description),
  });
}

/** The grant of an access token for `subscriptionId`; refuses every other caller. */
export function requireSubscription(caller: Caller, subscriptionId: string | undefined): Grant {
  if (caller.kind !== "access") {
    throw refuse(caller, "this resource needs a customer-granted access token");
  }
  if (subscriptionId !== caller.grant.subscriptionId) {
    throw forbidden("the token does not grant this subscription");
  }
  return caller.grant;
}

export function scopeOfGrant(grant: Grant): FeedScope {
  return {
    prefix: `Subscription/${grant.subscriptionId}`,
    usagePointIds: grant.usagePointIds,
    intervalDurationS: grant.scope.intervalDurationS,
    historyLengthS: grant.scope.historyLengthS,
    grantedData: grantedData(grant.scope),
  };
}

/** The owner's own data, every meter at full resolution; refuses every other caller. */
export function requireOwner(
  db: DatabaseSync,
  caller: Caller,
  retailCustomerId: string | undefined,
): FeedScope {
  if (caller.kind !== "owner") throw refuse(caller, "Download My Data needs the owner's login");
  if (retailCustomerId !== OWNER_RETAIL_CUSTOMER_ID) {
    throw new HttpError(404, "not_found", "no such retail customer");
  }
  return {
    prefix: `RetailCustomer/${OWNER_RETAIL_CUSTOMER_ID}`,
    usagePointIds: listMeters(db).map((meter) => usagePointIdFor(db, meter.meterKey)),
    intervalDurationS: null,
    historyLengthS: null,
    grantedData: ALL_GRANTED_DATA,
  };
}

/** Scope for the root-level resources (ReadingType, LocalTimeParameters, UsageSummary). */
export function requireReader(db: DatabaseSync, caller: Caller): FeedScope {
  if (caller.kind === "access") return scopeOfGrant(caller.grant);
  if (caller.kind === "owner") return requireOwner(db, caller, OWNER_RETAIL_CUSTOMER_ID);
  throw refuse(caller, "this resource needs an access token or the owner's login");
}

/** The client (application) id of a caller of `kind`; refuses every other caller. */
export function requireApplication(caller: Caller, kind: "client" | "registration"): string {
  if (caller.kind !== kind) {
    throw refuse(
      caller,
      kind === "client"
        ? "this resource needs a client access token (client_credentials)"
        : "this resource needs the application's registration access token",
    );
  }
  return caller.applicationId;
}
