/**
 * Client authentication at the token and revocation endpoints: confidential clients by HTTP Basic
 * (RFC 6749 §2.3.1), public clients by `client_id` alone. Sending both is ambiguous and refused.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { readForm } from "../http/body.ts";
import type { RouteRateLimit } from "../http/routes.ts";
import { type AppInfo, clientSecretMatches, findApp } from "./apps.ts";
import { tooManyRequests } from "./oauth_errors.ts";

export type ClientAuthResult =
  | { ok: true; app: AppInfo }
  | {
    ok: false;
    error: "invalid_request" | "invalid_client";
    description: string;
  };

/**
 * The account a request's failures count against (the rate-limit key, with its address): the
 * client id it claims when that app is registered, else `-`. An invented id must never become a
 * key of its own, or every random id would get fresh attempts and a new stored row.
 */
function rateLimitAccount(
  db: DatabaseSync,
  request: Request,
  form: URLSearchParams,
): string {
  const claimed = parseBasic(request.headers.get("authorization"))?.id ?? form.get("client_id");
  return claimed !== null && findApp(db, claimed) !== null ? claimed : "-";
}

/**
 * The failure budget of the token and revocation endpoints, one they share: failed client
 * authentication and bad grants count, per address and client (`rateLimitAccount`).
 */
export const clientRateLimit: RouteRateLimit = {
  endpoint: "token",
  account: async (request, { services: { db } }) =>
    rateLimitAccount(db, request, await readForm(request)),
  refused: tooManyRequests,
};

/** Authenticates the client of a token or revocation request. */
export function authenticateClient(
  db: DatabaseSync,
  request: Request,
  form: URLSearchParams,
): ClientAuthResult {
  const header = request.headers.get("authorization");
  const bodyClientId = form.get("client_id");
  if (form.has("client_secret")) {
    return fail("invalid_request", "send the client secret with HTTP Basic, not in the body");
  }
  if (header !== null) {
    const basic = parseBasic(header);
    if (basic === null) return fail("invalid_client", "malformed HTTP Basic credentials");
    // RFC 6749 §4.1.3 lets a client send its client_id along with its authentication, and many
    // libraries do; only a body naming another client is a contradiction.
    if (bodyClientId !== null && bodyClientId !== basic.id) {
      return fail("invalid_request", "client_id in the body is not the HTTP Basic client");
    }
    const app = findApp(db, basic.id);
    if (app === null || app.isPublic || !clientSecretMatches(db, app.clientId, basic.secret)) {
      return fail("invalid_client", "client authentication failed");
    }
    return { ok: true, app };
  }
  if (bodyClientId === null) return fail("invalid_client", "client authentication required");
  const app = findApp(db, bodyClientId);
  if (app === null) return fail("invalid_client", "client authentication failed");
  if (!app.isPublic) return fail("invalid_client", "confidential clients authenticate with Basic");
  return { ok: true, app };
}

function fail(error: "invalid_request" | "invalid_client", description: string): ClientAuthResult {
  return { ok: false, error, description };
}

/** Decodes `Basic base64(urlencode(id):urlencode(secret))`, or null when malformed. */
function parseBasic(header: string | null): { id: string; secret: string } | null {
  const match = header?.match(/^Basic\s+([A-Za-z0-9+/=]+)\s*$/i);
  if (!match) return null;
  try {
    const text = atob(match[1]);
    const colon = text.indexOf(":");
    if (colon < 0) return null;
    return {
      id: decodeURIComponent(text.slice(0, colon)),
      secret: decodeURIComponent(text.slice(colon + 1)),
    };
  } catch {
    return null;
  }
}
