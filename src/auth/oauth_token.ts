/**
 * `POST /oauth/token`: the `authorization_code` (with PKCE), `refresh_token` (rotating: the old
 * refresh and access tokens die) and `client_credentials` grants. Responses carry ESPI's
 * `resourceURI` and `authorizationURI`. Failed client authentication and bad grants count towards
 * a per-address-and-client rate limit.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { readForm } from "../http/body.ts";
import type { Route, RouteContext } from "../http/routes.ts";
import type { AppInfo } from "./apps.ts";
import {
  type AuthorizationRecord,
  findAuthorization,
  revokeAuthorization,
} from "./authorizations.ts";
import { authenticateClient, claimedClientId } from "./client_auth.ts";
import { redeemCode } from "./codes.ts";
import { tokenError, tokenJson, tooManyRequests } from "./oauth_errors.ts";
import { verifierMatches } from "./pkce.ts";
import { parseScope, ScopeError, scopeWithin } from "./scope.ts";
import { clearFailures, rateLimitKey, rateLimitState, recordFailure } from "./rate_limit.ts";
import {
  ACCESS_TOKEN_EXPIRES_IN_S,
  CLIENT_TOKEN_EXPIRES_IN_S,
  findToken,
  mintToken,
  REFRESH_TOKEN_EXPIRES_IN_S,
  revokeAuthorizationTokens,
} from "./tokens.ts";

/** ESPI resource paths the token response points at. */
export const ESPI_RESOURCE_BASE = "/espi/1_1/resource";

/** The token route. */
export function tokenRoutes(): Route[] {
  return [{ method: "POST", path: "/oauth/token", handler: token }];
}

interface GrantContext {
  db: DatabaseSync;
  app: AppInfo;
  form: URLSearchParams;
  nowMs: number;
  baseUrl: string;
}

async function token(request: Request, context: RouteContext): Promise<Response> {
  const { db, nowMs } = context.services;
  const form = await readForm(request);
  const key = rateLimitKey("token", context.remoteAddr, claimedClientId(request, form));
  const limit = rateLimitState(db, key, nowMs());
  if (limit.limited) return tooManyRequests(limit.retryAfterS);

  const client = authenticateClient(db, request, form);
  let response: Response;
  if (!client.ok) {
    response = tokenError(client.error, client.description);
  } else {
    const grant: GrantContext = {
      db,
      app: client.app,
      form,
      nowMs: nowMs(),
      baseUrl: context.services.publicBaseUrl,
    };
    const grantType = form.get("grant_type");
    response = grantType === "authorization_code"
      ? authorizationCodeGrant(grant)
      : grantType === "refresh_token"
      ? refreshTokenGrant(grant)
      : grantType === "client_credentials"
      ? clientCredentialsGrant(grant)
      : grantType === null
      ? tokenError("invalid_request", "grant_type is missing")
      : tokenError("unsupported_grant_type", `grant_type '${grantType}' is not supported`);
  }
  if (response.status === 401 || response.status === 400) recordFailure(db, key, nowMs());
  else if (response.ok) clearFailures(db, key);
  return response;
}

function authorizationCodeGrant({ db, app, form, nowMs, baseUrl }: GrantContext): Response {
  const code = form.get("code");
  if (code === null) return tokenError("invalid_request", "code is missing");
  const redeemed = redeemCode(db, code, nowMs);
  if (!redeemed.ok) {
    if (redeemed.reason === "reused" && redeemed.authorizationId !== undefined) {
      // RFC 6749 §4.1.2: a replayed code may be stolen; end what it granted.
      revokeAuthorization(db, redeemed.authorizationId, nowMs);
    }
    return tokenError(
      "invalid_grant",
      `the code is ${redeemed.reason === "unknown" ? "invalid" : redeemed.reason}`,
    );
  }
  const issued = redeemed.code;
  if (issued.clientId !== app.clientId) {
    return tokenError("invalid_grant", "the code was issued to another client");
  }
  const redirectUri = form.get("redirect_uri");
  if (
    issued.redirectUri !== null
      ? redirectUri !== issued.redirectUri
      : (redirectUri !== null && !app.redirectUris.includes(redirectUri))
  ) {
    return tokenError("invalid_grant", "redirect_uri does not match the authorization request");
  }
  const verifier = form.get("code_verifier");
  if (issued.codeChallenge !== null) {
    if (verifier === null) return tokenError("invalid_grant", "code_verifier is missing");
    if (!verifierMatches(verifier, issued.codeChallenge)) {
      return tokenError("invalid_grant", "code_verifier does not match the code_challenge");
    }
  } else if (verifier !== null) {
    return tokenError("invalid_grant", "no code_challenge was sent for this code");
  }
  const authorization = findAuthorization(db, issued.authorizationId);
  if (authorization === null || authorization.status !== "active") {
    return tokenError("invalid_grant", "the authorization was revoked");
  }
  return grantTokens(db, authorization, nowMs, baseUrl);
}

function refreshTokenGrant({ db, app, form, nowMs, baseUrl }: GrantContext): Response {
  const refreshToken = form.get("refresh_token");
  if (refreshToken === null) return tokenError("invalid_request", "refresh_token is missing");
  const record = findToken(db, refreshToken, nowMs);
  if (record === null || record.kind !== "refresh" || record.clientId !== app.clientId) {
    return tokenError("invalid_grant", "the refresh token is invalid, expired or revoked");
  }
  const authorization = record.authorizationId === null
    ? null
    : findAuthorization(db, record.authorizationId);
  if (authorization === null || authorization.status !== "active") {
    return tokenError("invalid_grant", "the authorization was revoked");
  }
  const requested = form.get("scope");
  if (requested !== null) {
    try {
      if (!scopeWithin(parseScope(requested), parseScope(authorization.scope))) {
        return tokenError("invalid_scope", "the scope exceeds the original grant");
      }
    } catch (error) {
      if (!(error instanceof ScopeError)) throw error;
      return tokenError("invalid_scope", error.message);
    }
  }
  db.exec("BEGIN IMMEDIATE");
  try {
    // Rotation: the presented refresh token and every access token before it stop working.
    revokeAuthorizationTokens(db, authorization.authorizationId, nowMs);
    const response = grantTokens(db, authorization, nowMs, baseUrl);
    db.exec("COMMIT");
    return response;
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}

function clientCredentialsGrant({ db, app, form, nowMs, baseUrl }: GrantContext): Response {
  if (app.isPublic) {
    return tokenError("unauthorized_client", "public clients cannot use client_credentials");
  }
  const requested = form.get("scope");
  let scope = app.scopes[0];
  if (requested !== null) {
    try {
      scope = parseScope(requested).text;
    } catch (error) {
      if (!(error instanceof ScopeError)) throw error;
      return tokenError("invalid_scope", error.message);
    }
  }
  const minted = mintToken(db, {
    kind: "client",
    clientId: app.clientId,
    expiresInS: CLIENT_TOKEN_EXPIRES_IN_S,
    nowMs,
  });
  const authorizations = `${baseUrl}${ESPI_RESOURCE_BASE}/Authorization`;
  return tokenJson({
    access_token: minted.token,
    token_type: "Bearer",
    expires_in: CLIENT_TOKEN_EXPIRES_IN_S,
    scope,
    resourceURI: authorizations,
    authorizationURI: authorizations,
  });
}

function grantTokens(
  db: DatabaseSync,
  authorization: AuthorizationRecord,
  nowMs: number,
  baseUrl: string,
): Response {
  const common = {
    clientId: authorization.clientId,
    authorizationId: authorization.authorizationId,
    nowMs,
  };
  const access = mintToken(db, {
    ...common,
    kind: "access",
    expiresInS: ACCESS_TOKEN_EXPIRES_IN_S,
  });
  const refresh = mintToken(db, {
    ...common,
    kind: "refresh",
    expiresInS: REFRESH_TOKEN_EXPIRES_IN_S,
  });
  return tokenJson({
    access_token: access.token,
    token_type: "Bearer",
    expires_in: ACCESS_TOKEN_EXPIRES_IN_S,
    refresh_token: refresh.token,
    scope: authorization.scope,
    resourceURI:
      `${baseUrl}${ESPI_RESOURCE_BASE}/Batch/Subscription/${authorization.subscriptionId}`,
    authorizationURI:
      `${baseUrl}${ESPI_RESOURCE_BASE}/Authorization/${authorization.authorizationId}`,
  });
}
