/**
 * Sign-in sessions (the administrator's or a household's): a random 256-bit id in an `HttpOnly; SameSite=Strict; Path=/` cookie (`Secure`
 * under TLS), stored only as a hash, expiring, ended by logout.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { get, statement } from "../store/statements.ts";
import { hashSecret, randomSecret } from "./secrets.ts";

export const SESSION_COOKIE = "openseg_session";
export const SESSION_EXPIRES_IN_S = 12 * 3600;

export interface NewSession {
  /** The cookie value: given to the browser, never stored. */
  sessionId: string;
  /** The `Set-Cookie` header value. */
  setCookie: string;
}

/** A live session: its stored hash, and whose it is. */
export interface SessionRecord {
  /** The stored hash of the cookie (what `Caller.sessionId` carries). */
  sessionId: string;
  /** The household signed in; null for the administrator. */
  householdId: number | null;
}

/**
 * Starts a session for the administrator (`householdId` omitted or null) or a household; returns
 * the id and its `Set-Cookie` header.
 */
export function createSession(
  db: DatabaseSync,
  options: { nowMs: number; secure: boolean; expiresInS?: number; householdId?: number | null },
): NewSession {
  const expiresInS = options.expiresInS ?? SESSION_EXPIRES_IN_S;
  const sessionId = randomSecret();
  statement(
    db,
    `INSERT INTO owner_sessions (id_hash, created_ms, expires_ms, household_id)
     VALUES (?, ?, ?, ?)`,
  ).run(
    hashSecret(sessionId),
    options.nowMs,
    options.nowMs + expiresInS * 1000,
    options.householdId ?? null,
  );
  return { sessionId, setCookie: sessionCookie(sessionId, options.secure, expiresInS) };
}

/**
 * The live session of a request's cookie, as its stored hash (what `Caller.sessionId` carries, so
 * the cookie itself never travels further), or null.
 */
export function findSession(db: DatabaseSync, request: Request, nowMs: number): string | null {
  return findSessionRecord(db, request, nowMs)?.sessionId ?? null;
}

/** The live session of a request's cookie with whose it is, or null. */
export function findSessionRecord(
  db: DatabaseSync,
  request: Request,
  nowMs: number,
): SessionRecord | null {
  const sessionId = readCookie(request.headers.get("cookie"), SESSION_COOKIE);
  if (sessionId === null || sessionId.length > 128) return null;
  const idHash = hashSecret(sessionId);
  const row = get<{ expiresMs: number; householdId: number | null }>(
    db,
    "SELECT expires_ms AS expiresMs, household_id AS householdId FROM owner_sessions WHERE id_hash = ?",
    idHash,
  );
  if (row === undefined || row.expiresMs <= nowMs) return null;
  return { sessionId: idHash, householdId: row.householdId };
}

/** True while the session with this stored hash (from `findSession`) exists and has not expired. */
export function sessionLive(db: DatabaseSync, sessionIdHash: string, nowMs: number): boolean {
  const row = get<{ expiresMs: number }>(
    db,
    "SELECT expires_ms AS expiresMs FROM owner_sessions WHERE id_hash = ?",
    sessionIdHash,
  );
  return row !== undefined && row.expiresMs > nowMs;
}

/** Ends the session with this stored hash (from `findSession`). */
export function endSession(db: DatabaseSync, sessionIdHash: string): void {
  statement(db, "DELETE FROM owner_sessions WHERE id_hash = ?").run(sessionIdHash);
}

/** Deletes expired sessions; returns how many. */
export function sweepSessions(db: DatabaseSync, nowMs: number): number {
  return Number(
    statement(db, "DELETE FROM owner_sessions WHERE expires_ms <= ?").run(nowMs).changes,
  );
}

/** The `Set-Cookie` value carrying a session id. */
export function sessionCookie(sessionId: string, secure: boolean, maxAgeS: number): string {
  return `${SESSION_COOKIE}=${sessionId}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAgeS}` +
    (secure ? "; Secure" : "");
}

/** The `Set-Cookie` value that removes the session cookie. */
export function clearSessionCookie(secure: boolean): string {
  return sessionCookie("", secure, 0);
}

function readCookie(header: string | null, name: string): string | null {
  if (header === null) return null;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}
