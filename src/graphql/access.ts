/**
 * Who may use `/graphql`, decided before GraphQL runs: the owner's session cookie or a
 * customer-granted OAuth access token (resolved by `src/auth`). Everything else is refused with a
 * GraphQL-shaped error: 401 without valid credentials, 403 for tokens that read no meter data
 * (client and registration tokens).
 *
 * Cookie requests get CSRF checks on top of the `SameSite=Strict` cookie: a foreign `Origin` is
 * refused, and a POST must be `application/json`, which a cross-site form cannot send without a
 * CORS preflight. Bearer requests carry no ambient authority, so they need neither.
 *
 * The resulting `Access` is what resolvers consult. It is the caller's read policy
 * (`src/auth/read_policy.ts`, the one rule for every interface): a household sees its own meters,
 * the administrator of a building sees every meter's link health but no readings, an app sees
 * only the meters its grant names and its household still owns, no further back than its history
 * and no finer than its resolution.
 *
 * @module
 */

import { findApp } from "../auth/apps.ts";
import type { Caller, Grant } from "../auth/caller.ts";
import { bearerChallenge, callerStillValid, resolveCaller } from "../auth/resolve.ts";
import { ALL_GRANTED_DATA, type GrantedData } from "../auth/granted_data.ts";
import { readPolicy } from "../auth/read_policy.ts";
import { householdChanges } from "../store/households.ts";
import { describeScope } from "../auth/scope.ts";
import { fromOwnOrigin } from "../http/origin.ts";
import type { HttpServices } from "../http/routes.ts";
import type { GraphQLError } from "graphql";
import { apiError, type ErrorCode } from "./errors.ts";

/** What one request may read. */
export interface Access {
  /** A signed-in person (the administrator or a household), or an app. */
  kind: "owner" | "app";
  /** May run the gateway (radios, link health, households, app registrations). */
  administrator: boolean;
  /** Whose customer data (authorizations, messages, export switch); null: no household's. */
  householdId: number | null;
  /** The kinds of data the caller may read (`@grantedData`). */
  grantedData: ReadonlySet<GrantedData>;
  /** The app's grant; null for a person. */
  grant: Grant | null;
  appName: string | null;
  /** Opaque meter ids the caller may see; null means every meter (in-process callers only). */
  meterIds: ReadonlySet<string> | null;
  historyLimitS: number | null;
  finestResolutionS: number | null;
  /** Plain sentences of the grant; null for the owner. */
  scopeDescription: string[] | null;
  /**
   * The credential admitted, re-checked while a subscription streams; null for in-process callers
   * with no credential (benchmarks).
   */
  caller: Caller | null;
}

/** Everything, for in-process callers with no credential (benchmarks). */
export const OWNER_ACCESS: Access = {
  kind: "owner",
  administrator: true,
  householdId: null,
  grantedData: ALL_GRANTED_DATA,
  grant: null,
  appName: null,
  meterIds: null,
  historyLimitS: null,
  finestResolutionS: null,
  scopeDescription: null,
  caller: null,
};

/**
 * Whose reads these are, for sharing work between requests: callers with the same key read exactly
 * the same data (one household's sessions; the administrator's; one app authorization's tokens).
 */
export function readerKey(access: Access): string {
  if (access.kind === "app") return `app:${access.grant?.authorizationId}`;
  return access.householdId === null
    ? `administrator:${access.administrator}`
    : `household:${access.householdId}:${access.administrator}`;
}

/**
 * Why a long-lived request (a subscription stream) must end now, or null while it may go on: its
 * credential no longer holds. (What it may read follows the read policy by itself: see
 * `followPolicy`.)
 */
export function accessEndReason(services: HttpServices, access: Access): GraphQLError | null {
  const caller = access.caller;
  if (caller === null || callerStillValid(services, caller)) return null;
  return apiError(
    "UNAUTHENTICATED",
    "the credential of this subscription was revoked or has expired",
  );
}

/** How stale a stream's view of the read policy may get. */
const POLICY_RECHECK_MS = 1000;

/**
 * Makes `access.meterIds` follow the read policy: re-read after any change of households in this
 * process and otherwise at most once a second, so a subscription
 * stream sees a new meter of its household and stops carrying one given to a neighbour, without
 * reconnecting. A request answered at once reads it once.
 */
function followPolicy(
  access: Access,
  services: HttpServices,
  caller: Caller,
  initial: ReadonlySet<string>,
): Access {
  let meterIds = initial;
  let readAtMs = performance.now();
  let seenChanges = householdChanges();
  return Object.defineProperty(access, "meterIds", {
    enumerable: true,
    get: () => {
      // A change made here is seen at once; one made by another process (the CLI) within a second.
      if (householdChanges() !== seenChanges || performance.now() - readAtMs >= POLICY_RECHECK_MS) {
        seenChanges = householdChanges();
        meterIds = readPolicy(services.db, caller).usagePointIds;
        readAtMs = performance.now();
      }
      return meterIds;
    },
  });
}

/** The access of a request, or the response refusing it. */
export function admitRequest(request: Request, services: HttpServices): Access | Response {
  const caller = resolveCaller(request, services);
  switch (caller.kind) {
    case "anonymous":
      return refusal(
        401,
        "UNAUTHENTICATED",
        caller.reason === "invalid_token"
          ? "the access token is unknown, expired or revoked"
          : "sign in as the owner, or send an OAuth access token (Authorization: Bearer …)",
        { "WWW-Authenticate": bearerChallenge(caller.reason) },
      );
    case "client":
    case "registration":
      return refusal(
        403,
        "FORBIDDEN",
        "this token reads no meter data; use a customer-granted access token",
        { "WWW-Authenticate": bearerChallenge("insufficient_scope") },
      );
    case "access":
      return appAccess(services, caller);
    case "owner":
      return csrfRefusal(request, services) ?? personAccess(services, caller);
  }
}

function personAccess(services: HttpServices, caller: Extract<Caller, { kind: "owner" }>): Access {
  const policy = readPolicy(services.db, caller);
  return followPolicy(
    {
      ...OWNER_ACCESS,
      administrator: policy.administrator,
      householdId: policy.householdId,
      grantedData: policy.grantedData,
      caller,
    },
    services,
    caller,
    policy.usagePointIds,
  );
}

function appAccess(services: HttpServices, caller: Extract<Caller, { kind: "access" }>): Access {
  const grant = caller.grant;
  const policy = readPolicy(services.db, caller);
  return followPolicy(
    {
      kind: "app",
      administrator: false,
      householdId: policy.householdId,
      grantedData: policy.grantedData,
      grant,
      // Read only when a query asks (`viewer`): most requests never do.
      get appName() {
        return findApp(services.db, grant.applicationId)?.name ?? null;
      },
      meterIds: policy.usagePointIds,
      historyLimitS: policy.historyLengthS,
      finestResolutionS: policy.intervalDurationS,
      get scopeDescription() {
        return describeScope(grant.scope);
      },
      caller,
    },
    services,
    caller,
    policy.usagePointIds,
  );
}

function csrfRefusal(request: Request, services: HttpServices): Response | null {
  if (request.headers.has("origin") && !fromOwnOrigin(request, services)) {
    return refusal(403, "FORBIDDEN", "cross-origin requests with the owner's cookie are refused");
  }
  if (request.method === "POST") {
    const type = request.headers.get("content-type")?.split(";")[0].trim().toLowerCase();
    if (type !== "application/json") {
      return refusal(
        415,
        "BAD_USER_INPUT",
        "with the owner's cookie, POST needs Content-Type: application/json",
      );
    }
  }
  return null;
}

/** A refusal before GraphQL runs, in the GraphQL response shape. */
export function refusal(
  status: number,
  code: ErrorCode,
  message: string,
  headers: Record<string, string> = {},
): Response {
  return Response.json({ errors: [{ message, extensions: { code } }] }, { status, headers });
}
