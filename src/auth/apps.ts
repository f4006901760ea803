/**
 * Third-party applications (OAuth clients): registration by the owner through the CLI, lookup,
 * removal (which ends their authorizations and tokens) and client-secret checks. An app may register
 * a notify URI, where the gateway POSTs ESPI notifications when new data arrives. A confidential
 * client's secret and every app's registration_access_token are shown once and stored hashed.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { all, get, statement } from "../store/statements.ts";
import { parseScope } from "./scope.ts";
import { hashSecret, randomSecret, secretMatches } from "./secrets.ts";
import { mintToken } from "./tokens.ts";

/**
 * The scope an app gets when it registers none: interval energy with its cost and usage summaries
 * with cost (FB 4, 5, 12, 15, 16; what a Green Button app needs for a bill-like view) for 48 hours
 * at 15 minutes, with ongoing access (3) and notifications (39). Not live or average demand (6),
 * register readings (9) or energy sent to the grid (7, 8): those reveal more about the household
 * and an app must register a scope that asks for them (see `granted_data.ts`).
 */
export const DEFAULT_APP_SCOPE =
  "FB=1_3_4_5_12_13_14_15_16_39;IntervalDuration=900;BlockDuration=daily;HistoryLength=172800";

export interface AppInfo {
  clientId: string;
  name: string;
  redirectUris: string[];
  /** Registered ESPI scope strings; an authorization asks for one of these or less. */
  scopes: string[];
  /** Public clients (phone apps) have no secret and must use PKCE. */
  isPublic: boolean;
  /** Where ESPI BatchList notifications are POSTed; null when the app only polls. */
  notifyUri: string | null;
  createdMs: number;
}

export interface RegisterAppOptions {
  name: string;
  redirectUris: string[];
  scopes?: string[];
  isPublic?: boolean;
  notifyUri?: string;
  nowMs: number;
}

export interface RegisteredApp {
  app: AppInfo;
  /** Null for public clients. Shown once. */
  clientSecret: string | null;
  /** Reads the app's ApplicationInformation. Shown once. */
  registrationAccessToken: string;
}

const LOOPBACK_HOSTS = ["127.0.0.1", "[::1]", "localhost"];

/** Why a redirect URI cannot be registered, or null when it can. */
export function redirectUriProblem(uri: string, isPublic: boolean): string | null {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return `'${uri}' is not an absolute URI`;
  }
  if (url.hash !== "" || uri.includes("#")) return `'${uri}' must not have a fragment`;
  const loopback = LOOPBACK_HOSTS.includes(url.hostname);
  if (url.protocol === "https:") return null;
  if (url.protocol === "http:" && loopback) return null;
  // Native apps receive the code on a private-use scheme such as com.example.app:/callback.
  if (isPublic && /^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+:$/.test(url.protocol)) return null;
  return `'${uri}' must be https (http only for localhost${
    isPublic ? ", or a reverse-domain app scheme" : ""
  })`;
}

/**
 * True when `candidate` is one of the app's registered redirect URIs: exactly, or — for a
 * registered `http` loopback URI — with any port (RFC 8252 §7.3: a native app listens on whatever
 * ephemeral port it got). Everything else, including the path and query of a loopback URI, must
 * match exactly; other hosts never get port flexibility.
 */
export function redirectUriRegistered(registered: string[], candidate: string): boolean {
  if (registered.includes(candidate)) return true;
  const portless = loopbackWithoutPort(candidate);
  return portless !== null && registered.some((uri) => loopbackWithoutPort(uri) === portless);
}

/** An `http` loopback URI with its port removed, or null for any other URI. */
function loopbackWithoutPort(uri: string): string | null {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" || !LOOPBACK_HOSTS.includes(url.hostname)) return null;
  url.port = "";
  return url.href;
}

/** Why a notify URI cannot be registered (https only, http for localhost), or null when it can. */
export function notifyUriProblem(uri: string): string | null {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return `'${uri}' is not an absolute URI`;
  }
  if (url.hash !== "" || uri.includes("#")) return `'${uri}' must not have a fragment`;
  if (url.protocol === "https:") return null;
  if (url.protocol === "http:" && ["127.0.0.1", "localhost"].includes(url.hostname)) return null;
  return `'${uri}' must be https (http only for 127.0.0.1 or localhost)`;
}

/** Registers an app; throws `RangeError` on a bad name, redirect URI, notify URI or scope. */
export function registerApp(db: DatabaseSync, options: RegisterAppOptions): RegisteredApp {
  const name = options.name.trim();
  if (name === "" || name.length > 200) throw new RangeError("the app needs a name (≤ 200 chars)");
  const isPublic = options.isPublic ?? false;
  if (options.redirectUris.length === 0) throw new RangeError("the app needs a redirect URI");
  for (const uri of options.redirectUris) {
    const problem = redirectUriProblem(uri, isPublic);
    if (problem !== null) throw new RangeError(problem);
  }
  const notifyUri = options.notifyUri ?? null;
  const notifyProblem = notifyUri === null ? null : notifyUriProblem(notifyUri);
  if (notifyProblem !== null) throw new RangeError(notifyProblem);
  const scopes = (options.scopes?.length ? options.scopes : [DEFAULT_APP_SCOPE]).map((text) => {
    try {
      return parseScope(text).text;
    } catch (error) {
      throw new RangeError(`scope '${text}': ${(error as Error).message}`);
    }
  });
  const clientId = randomSecret(16);
  const clientSecret = isPublic ? null : randomSecret();
  const app: AppInfo = {
    clientId,
    name,
    redirectUris: [...options.redirectUris],
    scopes,
    isPublic,
    notifyUri,
    createdMs: options.nowMs,
  };
  db.exec("BEGIN IMMEDIATE");
  try {
    statement(
      db,
      `INSERT INTO oauth_apps (client_id, name, redirect_uris_json, scopes_json, is_public,
         secret_hash, notify_uri, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      clientId,
      name,
      JSON.stringify(app.redirectUris),
      JSON.stringify(scopes),
      isPublic ? 1 : 0,
      clientSecret === null ? null : hashSecret(clientSecret),
      notifyUri,
      options.nowMs,
    );
    const registration = mintToken(db, { kind: "registration", clientId, nowMs: options.nowMs });
    db.exec("COMMIT");
    return { app, clientSecret, registrationAccessToken: registration.token };
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}

/** One app by client id, or null. */
export function findApp(db: DatabaseSync, clientId: string): AppInfo | null {
  const row = get<AppRow>(db, `${SELECT_APP} WHERE client_id = ?`, clientId);
  return row === undefined ? null : toApp(row);
}

/** Every registered app, oldest first. */
export function listApps(db: DatabaseSync): AppInfo[] {
  return all<AppRow>(db, `${SELECT_APP} ORDER BY created_ms, client_id`).map(toApp);
}

/** Removes an app with its authorizations, codes and tokens; false when unknown. */
export function removeApp(db: DatabaseSync, clientId: string): boolean {
  return statement(db, "DELETE FROM oauth_apps WHERE client_id = ?").run(clientId).changes > 0;
}

/** True when `secret` is the confidential client's secret (constant-time). */
export function clientSecretMatches(db: DatabaseSync, clientId: string, secret: string): boolean {
  const row = get<{ hash: string | null }>(
    db,
    "SELECT secret_hash AS hash FROM oauth_apps WHERE client_id = ?",
    clientId,
  );
  if (row?.hash == null) return false;
  return secretMatches(secret, row.hash);
}

const SELECT_APP = `SELECT client_id AS clientId, name, redirect_uris_json AS redirectUris,
  scopes_json AS scopes, is_public AS isPublic, notify_uri AS notifyUri, created_ms AS createdMs
  FROM oauth_apps`;

interface AppRow {
  clientId: string;
  name: string;
  redirectUris: string;
  scopes: string;
  isPublic: number;
  notifyUri: string | null;
  createdMs: number;
}

function toApp(row: AppRow): AppInfo {
  return {
    clientId: row.clientId,
    name: row.name,
    redirectUris: JSON.parse(row.redirectUris),
    scopes: JSON.parse(row.scopes),
    isPublic: row.isPublic === 1,
    notifyUri: row.notifyUri,
    createdMs: row.createdMs,
  };
}
