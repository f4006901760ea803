/**
 * `POST /oauth/revoke` (RFC 7009): a client ends one of its own tokens. Revoking a refresh token
 * ends the whole authorization (its access tokens too); unknown tokens and other clients' tokens
 * get the same 200, so the endpoint reveals nothing.
 *
 * @module
 */

import { readForm } from "../http/body.ts";
import type { Route, RouteContext } from "../http/routes.ts";
import { revokeAuthorization } from "./authorizations.ts";
import { authenticateClient, claimedClientId } from "./client_auth.ts";
import { tokenError, tooManyRequests } from "./oauth_errors.ts";
import { rateLimitKey, rateLimitState, recordFailure } from "./rate_limit.ts";
import { findToken, revokeToken } from "./tokens.ts";

/** The revocation route. */
export function revokeRoutes(): Route[] {
  return [{ method: "POST", path: "/oauth/revoke", handler: revoke }];
}

async function revoke(request: Request, context: RouteContext): Promise<Response> {
  const { db, nowMs } = context.services;
  const form = await readForm(request);
  const key = rateLimitKey("token", context.remoteAddr, claimedClientId(request, form));
  const limit = rateLimitState(db, key, nowMs());
  if (limit.limited) return tooManyRequests(limit.retryAfterS);
  const client = authenticateClient(db, request, form);
  if (!client.ok) {
    recordFailure(db, key, nowMs());
    return tokenError(client.error, client.description);
  }
  const token = form.get("token");
  if (token === null) return tokenError("invalid_request", "token is missing");
  const record = findToken(db, token, nowMs());
  if (record !== null && record.clientId === client.app.clientId) {
    if (record.kind === "refresh" && record.authorizationId !== null) {
      revokeAuthorization(db, record.authorizationId, nowMs());
    } else {
      revokeToken(db, record.tokenId, nowMs());
    }
  }
  return new Response(null, { status: 200, headers: { "Cache-Control": "no-store" } });
}
