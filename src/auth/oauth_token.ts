/**
 * `POST /oauth/token`: the `authorization_code` (with PKCE), `refresh_token` (rotating: the old
 * refresh and access tokens die) and `client_credentials` grants. Responses carry ESPI's
 * `resourceURI` and `authorizationURI`. Failed client authentication and bad grants count towards
 * a per-address-and-client rate limit (the client only when it is registered).
 *
 * A code is consumed only by its own client with its redirect_uri and PKCE verifier; anyone else
 * gets `invalid_grant` and the code stays usable. Presenting a used code again with all of that
 * right, or a rotated refresh token, ends the authorization (RFC 6749 §4.1.2, OAuth 2.0 Security
 * BCP §4.14).
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { readForm } from "../http/body.ts";
import { reservedAttempt } from "../http/guards/rate_limit.ts";
import type { Route, RouteContext } from "../http/routes.ts";
import { type AppInfo, redirectUriRegistered } from "./apps.ts";
import {
  type AuthorizationRecord,
  findAuthorization,
  revokeAuthorization,
  settleAuthorization,
} from "./authorizations.ts";
import { authenticateClient, clientRateLimit } from "./client_auth.ts";
import { claimCode, findCode, type StoredCode } from "./codes.ts";
import { tokenError, tokenJson } from "./oauth_errors.ts";
import { verifierMatches } from "./pkce.ts";
import type { EspiScope } from "./caller.ts";
import { parseScope, ScopeError, scopeWithin } from "./scope.ts";
import {
  ACCESS_TOKEN_EXPIRES_IN_S,
  CLIENT_TOKEN_EXPIRES_IN_S,
  findRevokedRefreshToken,
  findToken,
  mintToken,
  REFRESH_TOKEN_EXPIRES_IN_S,
  rotateAuthorizationTokens,
} from "./tokens.ts";

/** ESPI resource paths the token response points at. */
export const ESPI_RESOURCE_BASE = "/espi/1_1/resource";

/** The token route. */
export function tokenRoutes(): Route[] {
  return [{ method: "POST", path: "/oauth/token", handler: token, rateLimit: clientRateLimit }];
}

interface GrantContext {
  db: DatabaseSync;
  app: AppInfo;
  form: URLSearchParams;
  nowMs: number;
  baseUrl: string;
}

/** The attempt was reserved by the chain (`clientRateLimit`): a failure until it succeeds. */
async function token(request: Request, context: RouteContext): Promise<Response> {
  const { db, nowMs } = context.services;
  const form = await readForm(request);
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
  if (response.ok) reservedAttempt(context).succeeded();
  return response;
}

function authorizationCodeGrant({ db, app, form, nowMs, baseUrl }: GrantContext): Response {
  const code = form.get("code");
  if (code === null) return tokenError("invalid_request", "code is missing");
  const stored = findCode(db, code);
  // Another client's code looks like no code at all, and stays usable for its own client.
  if (stored === null || stored.clientId !== app.clientId) {
    return tokenError("invalid_grant", "the code is invalid");
  }
  const problem = presentationProblem(stored, app, form);
  if (problem !== null) return tokenError("invalid_grant", problem);
  if (stored.usedMs === null && stored.expiresMs <= nowMs) {
    return tokenError("invalid_grant", "the code is expired");
  }
  // Only now, with client, redirect_uri and verifier right, is the code consumed (or a replay).
  if (stored.usedMs !== null || !claimCode(db, stored.codeHash, nowMs)) {
    // RFC 6749 §4.1.2: a replayed code may be stolen; end what it granted.
    revokeAuthorization(db, stored.authorizationId, nowMs);
    return tokenError("invalid_grant", "the code is reused");
  }
  const authorization = findAuthorization(db, stored.authorizationId);
  if (authorization === null || authorization.status !== "active") {
    return tokenError("invalid_grant", "the authorization was revoked");
  }
  settleAuthorization(db, authorization.authorizationId);
  return grantTokens(db, authorization, nowMs, baseUrl);
}

/** Why this client's redemption of `stored` does not match its authorization request, or null. */
function presentationProblem(stored: StoredCode, app: AppInfo, form: URLSearchParams) {
  const redirectUri = form.get("redirect_uri");
  if (
    stored.redirectUri !== null
      ? redirectUri !== stored.redirectUri
      : (redirectUri !== null && !redirectUriRegistered(app.redirectUris, redirectUri))
  ) {
    return "redirect_uri does not match the authorization request";
  }
  const verifier = form.get("code_verifier");
  if (stored.codeChallenge !== null) {
    if (verifier === null) return "code_verifier is missing";
    if (!verifierMatches(verifier, stored.codeChallenge)) {
      return "code_verifier does not match the code_challenge";
    }
  } else if (verifier !== null) {
    return "no code_challenge was sent for this code";
  }
  return null;
}

function refreshTokenGrant({ db, app, form, nowMs, baseUrl }: GrantContext): Response {
  const refreshToken = form.get("refresh_token");
  if (refreshToken === null) return tokenError("invalid_request", "refresh_token is missing");
  const replayed = findRevokedRefreshToken(db, refreshToken, nowMs);
  if (
    replayed !== null && replayed.clientId === app.clientId && replayed.authorizationId !== null
  ) {
    // Security BCP §4.14.2: a rotated refresh token used again means two parties hold the chain;
    // end the authorization so that neither keeps it.
    revokeAuthorization(db, replayed.authorizationId, nowMs);
    return tokenError("invalid_grant", "the refresh token was already used");
  }
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
    rotateAuthorizationTokens(db, authorization.authorizationId, nowMs);
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
    let asked: EspiScope;
    try {
      asked = parseScope(requested);
    } catch (error) {
      if (!(error instanceof ScopeError)) throw error;
      return tokenError("invalid_scope", error.message);
    }
    // The token carries the app's registered scope: answer the one covering the request, never
    // the request itself (RFC 6749 §5.1: the response names the scope actually granted).
    const covering = app.scopes.find((registered) => scopeWithin(asked, parseScope(registered)));
    if (covering === undefined) {
      return tokenError("invalid_scope", "the scope exceeds what the app registered");
    }
    scope = covering;
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
