/**
 * A real gateway HTTP server for auth tests: a temporary SQLite file, port 0 on 127.0.0.1, an
 * adjustable clock, a probe route showing how `resolveCaller` sees a request, and helpers that
 * act as the owner's browser and as a third-party app.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { DatabaseSync } from "node:sqlite";
import { registerApp, type RegisteredApp } from "../../src/auth/apps.ts";
import { setOwnerPassword } from "../../src/auth/owner.ts";
import { bearerChallenge, resolveCaller } from "../../src/auth/resolve.ts";
import type { HttpServices, Route } from "../../src/http/routes.ts";
import { createHttpApp } from "../../src/app/http_app.ts";
import { openDatabase } from "../../src/store/db.ts";
import { EventWrites } from "../../src/store/writes.ts";

export const OWNER_PASSWORD = "correct horse battery";
export const REDIRECT_URI = "https://app.example/callback";
export const PROBE_PATH = "/test/whoami";

export interface TestGateway {
  url: string;
  db: DatabaseSync;
  dbPath: string;
  services: HttpServices;
  /** Added to the real clock: move time forward to expire codes and tokens. */
  clock: { offsetMs: number };
  close(): Promise<void>;
}

/** A probe resource: 200 with the caller's kind, or 401 with a Bearer challenge. */
const probeRoute: Route = {
  method: "GET",
  path: PROBE_PATH,
  handler: (request, context) => {
    const caller = resolveCaller(request, context.services);
    if (caller.kind === "anonymous") {
      return Response.json({ error: caller.reason ?? "unauthorized" }, {
        status: 401,
        headers: { "WWW-Authenticate": bearerChallenge(caller.reason) },
      });
    }
    return Response.json(caller);
  },
};

/** Starts a gateway with the auth routes, the probe and `extraRoutes`, and one known meter. */
export async function startTestGateway(extraRoutes: Route[] = []): Promise<TestGateway> {
  const dir = await Deno.makeTempDir({ prefix: "openseg-auth-" });
  const dbPath = `${dir}/openseg.db`;
  const db = openDatabase(dbPath);
  // Stored the way the ingest path stores a meter it hears, usage point included.
  new EventWrites(db).meterSeen(
    "0x00135003000a1b2c",
    "/dev/pts/9",
    null,
    Date.now() - 60_000,
    Date.now(),
  );
  const clock = { offsetMs: 0 };
  const server = createHttpApp({
    hostname: "127.0.0.1",
    port: 0,
    services: {
      db,
      nowMs: () => Date.now() + clock.offsetMs,
      publicBaseUrl: "",
      timeZone: "UTC",
      secure: false,
    },
    auth: true,
    routes: [probeRoute, ...extraRoutes],
    onError: () => {},
  });
  return {
    url: server.url,
    db,
    dbPath,
    services: server.services,
    clock,
    close: async () => {
      await server.shutdown();
      db.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Registers an app the way `openseg apps add` does. */
export function addApp(
  gateway: TestGateway,
  options: { isPublic?: boolean; scopes?: string[] } = {},
): RegisteredApp {
  return registerApp(gateway.db, {
    name: options.isPublic ? "Phone Energy" : "Energy Coach",
    redirectUris: [REDIRECT_URI],
    scopes: options.scopes,
    isPublic: options.isPublic,
    nowMs: Date.now(),
  });
}

/** POSTs a form the way a browser does from one of the gateway's pages. */
export async function postForm(
  gateway: TestGateway,
  path: string,
  fields: [string, string][] | Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return await fetch(`${gateway.url}${path}`, {
    method: "POST",
    redirect: "manual",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      Origin: gateway.url,
      ...headers,
    },
    body: new URLSearchParams(fields),
  });
}

/** Sets the owner password and signs in through the real login form; returns the cookie. */
export async function ownerSession(gateway: TestGateway): Promise<string> {
  await setOwnerPassword(gateway.db, OWNER_PASSWORD, Date.now());
  const response = await postForm(gateway, "/owner/login", { password: OWNER_PASSWORD });
  await response.body?.cancel();
  assert.equal(response.status, 303);
  const setCookie = response.headers.get("set-cookie") ?? "";
  return setCookie.split(";")[0];
}

/** The hidden and checkbox inputs of the consent form. */
export function consentFields(html: string): [string, string][] {
  const fields: [string, string][] = [];
  for (
    const match of html.matchAll(
      /<input type="(?:hidden|checkbox)" name="([^"]+)" value="([^"]*)"/g,
    )
  ) {
    fields.push([match[1], unescape(match[2])]);
  }
  return fields;
}

function unescape(text: string): string {
  return text.replaceAll("&quot;", '"').replaceAll("&#39;", "'").replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">").replaceAll("&amp;", "&");
}

/**
 * Runs the front channel as the owner's browser: GET the consent page, then Allow or Deny.
 * Returns the redirect to the app.
 */
export async function authorize(
  gateway: TestGateway,
  cookie: string,
  params: Record<string, string>,
  decision: "approve" | "deny" = "approve",
): Promise<URL> {
  const page = await fetch(`${gateway.url}/oauth/authorize?${new URLSearchParams(params)}`, {
    headers: { Cookie: cookie },
    redirect: "manual",
  });
  const html = await page.text();
  assert.equal(page.status, 200, html);
  const response = await postForm(
    gateway,
    "/oauth/authorize",
    [...consentFields(html), ["decision", decision]],
    { Cookie: cookie },
  );
  await response.body?.cancel();
  assert.equal(response.status, 303);
  return new URL(response.headers.get("location")!);
}

/** HTTP Basic credentials of a confidential client. */
export function basic(clientId: string, secret: string): string {
  return `Basic ${btoa(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`)}`;
}

/** POSTs to the token (or revoke) endpoint as a client would; returns status and JSON body. */
export async function tokenRequest(
  gateway: TestGateway,
  fields: Record<string, string>,
  authorization?: string,
  path = "/oauth/token",
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(`${gateway.url}${path}`, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      ...(authorization ? { Authorization: authorization } : {}),
    },
    body: new URLSearchParams(fields),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text === "" ? {} : JSON.parse(text),
    headers: response.headers,
  };
}

/** GETs the probe with a bearer token; returns status and body. */
export async function probe(
  gateway: TestGateway,
  token: string | null,
): Promise<{ status: number; body: Record<string, unknown>; challenge: string | null }> {
  const response = await fetch(`${gateway.url}${PROBE_PATH}`, {
    headers: token === null ? {} : { Authorization: `Bearer ${token}` },
  });
  return {
    status: response.status,
    body: await response.json(),
    challenge: response.headers.get("www-authenticate"),
  };
}
