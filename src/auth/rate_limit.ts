/**
 * Failure-based rate limiting for the login, setup, token and revocation endpoints: after
 * `maxFailures` failures within `windowMs` for one key (endpoint + remote address + account),
 * further attempts get 429 until the oldest failure leaves the window. Failures live in SQLite, so
 * a restart does not reset a brute-force attempt.
 *
 * An attempt is reserved (counted as a failure) *before* the credential is checked, in one
 * synchronous step, so concurrent guesses cannot all pass the check while the first is still being
 * hashed; a success clears the key, a refusal for overload releases the reservation.
 *
 * The table is bounded: keys are short (long parts are hashed), a key stops growing once it is
 * limited, and beyond `FAILURE_ROWS_MAX` rows the oldest are evicted. Eviction can forget a
 * failure early, but only when thousands of distinct keys failed within one window.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { all, statement } from "../store/statements.ts";
import { hashSecret } from "./secrets.ts";

export interface RateLimitOptions {
  maxFailures?: number;
  windowMs?: number;
}

export interface RateLimitState {
  limited: boolean;
  /** Seconds until another attempt is allowed (0 when not limited). */
  retryAfterS: number;
}

/** A reserved attempt, or the lockout that refused it. */
export type Attempt =
  | { limited: true; retryAfterS: number }
  | {
    limited: false;
    /** Un-counts the attempt (it was refused for a reason that is not the caller's guess). */
    release(): void;
  };

export const MAX_FAILURES = 5;
export const FAILURE_WINDOW_MS = 60_000;
/** At most this many failure rows are kept (≈ 100 bytes each), whatever the traffic. */
export const FAILURE_ROWS_MAX = 10_000;
/** Key parts longer than this are stored as their SHA-256. */
const MAX_KEY_PART_CHARS = 64;

/** The key for one endpoint, remote address and account (a registered client id, or a role). */
export function rateLimitKey(endpoint: string, remoteAddr: string, account: string): string {
  const short = (part: string) => part.length > MAX_KEY_PART_CHARS ? `#${hashSecret(part)}` : part;
  return `${endpoint}|${short(remoteAddr)}|${short(account)}`;
}

/** Whether `key` is currently locked out. */
function rateLimitState(
  db: DatabaseSync,
  key: string,
  nowMs: number,
  options: RateLimitOptions = {},
): RateLimitState {
  const maxFailures = options.maxFailures ?? MAX_FAILURES;
  const windowMs = options.windowMs ?? FAILURE_WINDOW_MS;
  const rows = all<{ atMs: number }>(
    db,
    "SELECT at_ms AS atMs FROM auth_failures WHERE key = ? AND at_ms > ? ORDER BY at_ms DESC LIMIT ?",
    key,
    nowMs - windowMs,
    maxFailures,
  );
  if (rows.length < maxFailures) return { limited: false, retryAfterS: 0 };
  const oldest = rows[rows.length - 1].atMs;
  return { limited: true, retryAfterS: Math.max(1, Math.ceil((oldest + windowMs - nowMs) / 1000)) };
}

/**
 * Checks the limit and, when not limited, records the attempt as a failure — synchronously, so no
 * other request can slip between the check and the record. Clear the key on success.
 */
export function reserveAttempt(
  db: DatabaseSync,
  key: string,
  nowMs: number,
  options: RateLimitOptions = {},
): Attempt {
  const state = rateLimitState(db, key, nowMs, options);
  if (state.limited) return { limited: true, retryAfterS: state.retryAfterS };
  const rowId = statement(db, "INSERT INTO auth_failures (key, at_ms) VALUES (?, ?)")
    .run(key, nowMs).lastInsertRowid;
  // Rowids grow with each insert, so this keeps at most the newest FAILURE_ROWS_MAX rows.
  statement(db, "DELETE FROM auth_failures WHERE rowid <= ?").run(Number(rowId) - FAILURE_ROWS_MAX);
  return {
    limited: false,
    release: () => statement(db, "DELETE FROM auth_failures WHERE rowid = ?").run(rowId),
  };
}

/** Forgets the failures of `key` after a success. */
export function clearFailures(db: DatabaseSync, key: string): void {
  statement(db, "DELETE FROM auth_failures WHERE key = ?").run(key);
}

/** Deletes failures that have left the window; returns how many. */
export function sweepFailures(db: DatabaseSync, nowMs: number): number {
  return Number(
    statement(db, "DELETE FROM auth_failures WHERE at_ms <= ?").run(nowMs - FAILURE_WINDOW_MS)
      .changes,
  );
}
