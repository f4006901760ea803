/**
 * Validating an authorization request (RFC 6749 §4.1.1 + PKCE), shared by the consent page (GET)
 * and the decision (POST). The order matters: until the client and redirect_uri are known good,
 * errors are shown to the owner and never redirected (§4.1.2.1), so the gateway cannot be used
 * as an open redirector.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { repeatedKey } from "../http/body.ts";
import { type AppInfo, findApp, redirectUriRegistered } from "./apps.ts";
import type { EspiScope } from "./caller.ts";
import { isS256Challenge } from "./pkce.ts";
import { parseScope, ScopeError, scopeWithin } from "./scope.ts";

const MAX_STATE_CHARS = 1024;

export interface AuthorizeRequest {
  app: AppInfo;
  /** Where the code goes. */
  redirectUri: string;
  /** True when the client sent redirect_uri (then /oauth/token must repeat it). */
  redirectUriGiven: boolean;
  scope: EspiScope;
  state: string | null;
  codeChallenge: string | null;
}

export type AuthorizeValidation =
  | { kind: "ok"; request: AuthorizeRequest }
  /** Client or redirect_uri unusable: tell the owner, do not redirect. */
  | { kind: "fatal"; description: string }
  /** Anything else: redirect the error to the client. */
  | { kind: "redirect"; location: string };

/** Validates the parameters of an authorization request (query or form). */
export function validateAuthorizeRequest(
  db: DatabaseSync,
  params: URLSearchParams,
): AuthorizeValidation {
  const clientId = params.get("client_id");
  if (clientId === null) return { kind: "fatal", description: "client_id is missing." };
  const app = findApp(db, clientId);
  if (app === null) return { kind: "fatal", description: "This app is not registered here." };
  const given = params.get("redirect_uri");
  if (params.getAll("redirect_uri").length > 1 || params.getAll("client_id").length > 1) {
    return { kind: "fatal", description: "client_id or redirect_uri appears twice." };
  }
  const redirectUri = given ?? (app.redirectUris.length === 1 ? app.redirectUris[0] : null);
  if (redirectUri === null || !redirectUriRegistered(app.redirectUris, redirectUri)) {
    return {
      kind: "fatal",
      description: "The redirect_uri does not match the one registered for this app.",
    };
  }
  const state = params.get("state");
  const fail = (error: string, description: string): AuthorizeValidation => ({
    kind: "redirect",
    location: errorRedirect(redirectUri, error, description, state),
  });
  const repeated = repeatedKey(params);
  if (repeated !== null) return fail("invalid_request", `'${repeated}' appears more than once`);
  if (state !== null && state.length > MAX_STATE_CHARS) {
    return fail("invalid_request", "state too long");
  }
  const responseType = params.get("response_type");
  if (responseType === null) return fail("invalid_request", "response_type is missing");
  if (responseType !== "code") return fail("unsupported_response_type", "only 'code' is supported");

  let scope: EspiScope;
  try {
    scope = parseScope(params.get("scope") ?? app.scopes[0]);
  } catch (error) {
    if (!(error instanceof ScopeError)) throw error;
    return fail("invalid_scope", error.message);
  }
  if (!app.scopes.some((registered) => scopeWithin(scope, parseScope(registered)))) {
    return fail("invalid_scope", "the scope exceeds what the app registered");
  }

  const challenge = params.get("code_challenge");
  const method = params.get("code_challenge_method");
  if (challenge === null && method !== null) {
    return fail("invalid_request", "code_challenge_method without code_challenge");
  }
  if (challenge !== null) {
    if (method !== "S256") return fail("invalid_request", "code_challenge_method must be S256");
    if (!isS256Challenge(challenge)) return fail("invalid_request", "malformed code_challenge");
  } else if (app.isPublic) {
    return fail("invalid_request", "public clients must use PKCE (code_challenge, S256)");
  }
  return {
    kind: "ok",
    request: {
      app,
      redirectUri,
      redirectUriGiven: given !== null,
      scope,
      state,
      codeChallenge: challenge,
    },
  };
}

/** The client's redirect_uri with `params` (and `state` when sent) added to its query. */
export function clientRedirect(
  redirectUri: string,
  params: Record<string, string>,
  state: string | null,
): string {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  if (state !== null) url.searchParams.set("state", state);
  return url.href;
}

/** An RFC 6749 §4.1.2.1 error redirect. */
export function errorRedirect(
  redirectUri: string,
  error: string,
  description: string,
  state: string | null,
): string {
  return clientRedirect(redirectUri, { error, error_description: description }, state);
}
