/**
 * Who may read which ESPI resource, by the token type ESPI assigns to it: the customer-granted
 * access token for its own Subscription (and the ReadingType/LocalTimeParameters it links to),
 * the client access token for Authorization and ReadServiceStatus, the registration token for
 * the app's own ApplicationInformation, and a household's session for its own RetailCustomer
 * (`RetailCustomer/{its id}`: Download My Data and the authorizations it granted). Which usage
 * points and data each may see is the read policy's decision (`src/auth/read_policy.ts`).
 *
 * Refusals are `HttpError`s: 401 `invalid_token` (or a bare challenge without credentials) when
 * the caller is not authenticated, 403 `insufficient_scope` for a valid caller of the wrong kind
 * or outside its grant; what is not the caller's is 404, like what does not exist.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { bearerChallenge } from "../auth/resolve.ts";
import type { Caller, Grant } from "../auth/caller.ts";
import { grantPolicy, type ReadPolicy, readPolicy } from "../auth/read_policy.ts";
import { HttpError } from "../http/errors.ts";
import type { FeedScope } from "./usage_point_view.ts";

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

/** What an app's grant shows, as the read policy says (only meters its household still owns). */
export function scopeOfGrant(db: DatabaseSync, grant: Grant): FeedScope {
  return scopeOfPolicy(`Subscription/${grant.subscriptionId}`, grantPolicy(db, grant));
}

/**
 * A household's own data, every one of its meters at full resolution (Download My Data), for the
 * household signed in; refuses every other caller. Another household's id, and the administrator
 * of a building (who owns no data), get the same 404 as an id that does not exist.
 */
export function requireOwner(
  db: DatabaseSync,
  caller: Caller,
  retailCustomerId: string | undefined,
): FeedScope {
  const policy = customerPolicy(db, caller, retailCustomerId);
  return scopeOfPolicy(`RetailCustomer/${policy.householdId}`, policy);
}

/**
 * The RetailCustomer id of the household signed in when the path names it (the authorizations it
 * granted); the same refusals as `requireOwner`.
 */
export function requireCustomer(
  db: DatabaseSync,
  caller: Caller,
  retailCustomerId: string | undefined,
): number {
  return customerPolicy(db, caller, retailCustomerId).householdId;
}

/** The signed-in household's own data, whatever its RetailCustomer id; refuses everyone else. */
export function requireOwnData(db: DatabaseSync, caller: Caller): FeedScope {
  const policy = ownPolicy(db, caller);
  return scopeOfPolicy(`RetailCustomer/${policy.householdId}`, policy);
}

type CustomerPolicy = ReadPolicy & { householdId: number };

/** One answer for every RetailCustomer that is not the caller's: it does not exist. */
function noSuchCustomer(): HttpError {
  return new HttpError(404, "not_found", "no such retail customer");
}

function ownPolicy(db: DatabaseSync, caller: Caller): CustomerPolicy {
  if (caller.kind !== "owner") throw refuse(caller, "Download My Data needs the household's login");
  const policy = readPolicy(db, caller);
  if (policy.householdId === null) throw noSuchCustomer();
  return { ...policy, householdId: policy.householdId };
}

/** Compared as text: `01`, `1.0` or `%31` name no RetailCustomer, like any other junk. */
function customerPolicy(
  db: DatabaseSync,
  caller: Caller,
  retailCustomerId: string | undefined,
): CustomerPolicy {
  const policy = ownPolicy(db, caller);
  if (retailCustomerId !== String(policy.householdId)) throw noSuchCustomer();
  return policy;
}

/** Scope for the root-level resources (ReadingType, LocalTimeParameters, UsageSummary). */
export function requireReader(db: DatabaseSync, caller: Caller): FeedScope {
  if (caller.kind === "access") return scopeOfGrant(db, caller.grant);
  if (caller.kind === "owner") return requireOwnData(db, caller);
  throw refuse(caller, "this resource needs an access token or the owner's login");
}

function scopeOfPolicy(prefix: string, policy: ReadPolicy): FeedScope {
  return {
    prefix,
    usagePointIds: [...policy.usagePointIds],
    intervalDurationS: policy.intervalDurationS,
    historyLengthS: policy.historyLengthS,
    grantedData: policy.grantedData,
  };
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
