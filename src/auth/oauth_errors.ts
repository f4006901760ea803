/**
 * Token-endpoint responses exactly as RFC 6749 §5.1/§5.2: `no-store` JSON, 400 for grant and
 * request errors, 401 + `WWW-Authenticate: Basic` for `invalid_client`, and 429 + `Retry-After`
 * when a client or address is locked out after repeated failures.
 *
 * @module
 */

import { jsonError } from "../http/errors.ts";

export type TokenErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "invalid_scope";

const NO_STORE = { "Cache-Control": "no-store", "Pragma": "no-cache" };

/** An RFC 6749 §5.2 error response. */
export function tokenError(error: TokenErrorCode, description: string): Response {
  if (error === "invalid_client") {
    return jsonError(401, error, description, {
      ...NO_STORE,
      "WWW-Authenticate": 'Basic realm="openseg", charset="UTF-8"',
    });
  }
  return jsonError(400, error, description, NO_STORE);
}

/** 429: too many failures from this address for this client. */
export function tooManyRequests(retryAfterS: number): Response {
  return jsonError(429, "too_many_requests", `too many failures; retry in ${retryAfterS} s`, {
    ...NO_STORE,
    "Retry-After": String(retryAfterS),
  });
}

/** A successful `no-store` JSON response. */
export function tokenJson(body: Record<string, unknown>): Response {
  return Response.json(body, { headers: NO_STORE });
}
