/**
 * Who is calling: a bearer token becomes an access, client or registration caller by its kind; an
 * owner session cookie becomes the owner; anything else is anonymous. Resource servers build on
 * the resulting `Caller` and answer 401 with `bearerChallenge` when it will not do.
 *
 * @module
 */

import type { HttpServices } from "../http/routes.ts";
import { findAuthorization, grantOf } from "./authorizations.ts";
import type { Caller } from "./caller.ts";
import { findSessionRecord, sessionLive } from "./sessions.ts";
import { tokenCaller } from "./token_callers.ts";
import { findToken, MAX_TOKEN_CHARS, tokenLive, type TokenRecord } from "./tokens.ts";

/** Resolves the caller of a request (a bearer token wins over a session cookie). */
export function resolveCaller(request: Request, services: HttpServices): Caller {
  const nowMs = services.nowMs();
  const header = request.headers.get("authorization");
  if (header !== null && /^bearer\s/i.test(header)) {
    return callerForToken(services, header.slice(7).trim(), nowMs);
  }
  const session = findSessionRecord(services.db, request, nowMs);
  if (session !== null) return { kind: "owner", ...session };
  return { kind: "anonymous" };
}

/**
 * True while the credential a caller was resolved from still holds: the owner's session not
 * ended or expired, the token not revoked or expired. For requests that outlive their admission,
 * such as a subscription stream.
 */
export function callerStillValid(services: HttpServices, caller: Caller): boolean {
  const nowMs = services.nowMs();
  switch (caller.kind) {
    case "anonymous":
      return false;
    case "owner":
      return sessionLive(services.db, caller.sessionId, nowMs);
    default:
      return tokenLive(services.db, caller.tokenId, nowMs);
  }
}

function callerForToken(services: HttpServices, token: string, nowMs: number): Caller {
  const invalid: Caller = { kind: "anonymous", reason: "invalid_token" };
  if (token === "" || token.length > MAX_TOKEN_CHARS) return invalid;
  return tokenCaller(services.db, token, nowMs, () => {
    const record = findToken(services.db, token, nowMs);
    if (record === null) return { caller: invalid, expiresAtMs: null };
    return { caller: callerOf(services, record) ?? invalid, expiresAtMs: record.expiresAtMs };
  });
}

/** The caller a live token stands for, or null when it grants nothing here. */
function callerOf(services: HttpServices, record: TokenRecord): Caller | null {
  switch (record.kind) {
    case "access": {
      const authorization = record.authorizationId === null
        ? null
        : findAuthorization(services.db, record.authorizationId);
      const grant = authorization === null ? null : grantOf(authorization);
      return grant === null ? null : { kind: "access", grant, tokenId: record.tokenId };
    }
    case "client":
      return { kind: "client", applicationId: record.clientId, tokenId: record.tokenId };
    case "registration":
      return { kind: "registration", applicationId: record.clientId, tokenId: record.tokenId };
    case "refresh":
      // A refresh token only ever goes to /oauth/token.
      return null;
  }
}

export type BearerError = "invalid_request" | "invalid_token" | "insufficient_scope";

/**
 * The `WWW-Authenticate` value for a 401/403 from a resource server (RFC 6750 §3); without an
 * error it is the bare challenge for a request that sent no token.
 */
export function bearerChallenge(error?: BearerError, description?: string): string {
  let challenge = 'Bearer realm="openseg"';
  if (error !== undefined) challenge += `, error="${error}"`;
  if (description !== undefined) {
    challenge += `, error_description="${description.replace(/["\\]/g, "")}"`;
  }
  return challenge;
}
