/**
 * `POST /oauth/revoke` (RFC 7009): a client ends one of its own tokens. Revoking a refresh token
 * ends the whole authorization (its access tokens too); unknown tokens and other clients' tokens
 * get the same 200, so the endpoint reveals nothing.
 *
 * @module
 */

import { readForm } from "../http/body.ts";
import { reservedAttempt } from "../http/guards/rate_limit.ts";
import type { Route, RouteContext } from "../http/routes.ts";
import { revokeAuthorization } from "./authorizations.ts";
import { authenticateClient, clientRateLimit } from "./client_auth.ts";
import { tokenError } from "./oauth_errors.ts";
import { findToken, revokeToken } from "./tokens.ts";

/** The revocation route. */
export function revokeRoutes(): Route[] {
  return [{ method: "POST", path: "/oauth/revoke", handler: revoke, rateLimit: clientRateLimit }];
}

/** The attempt was reserved by the chain (`clientRateLimit`, the token endpoint's budget). */
async function revoke(request: Request, context: RouteContext): Promise<Response> {
  const { db, nowMs } = context.services;
  const form = await readForm(request);
  const client = authenticateClient(db, request, form);
  if (!client.ok) return tokenError(client.error, client.description);
  reservedAttempt(context).succeeded();
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
