/**
 * Failure-based rate limiting for the login, setup and token endpoints: after `maxFailures`
 * failures within `windowMs` for one key (address + account), further attempts get 429 until the
 * oldest failure leaves the window. Failures live in SQLite, so a restart does not reset a
 * brute-force attempt.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";

export interface RateLimitOptions {
  maxFailures?: number;
  windowMs?: number;
}

export interface RateLimitState {
  limited: boolean;
  /** Seconds until another attempt is allowed (0 when not limited). */
  retryAfterS: number;
}

const DEFAULT_MAX_FAILURES = 5;
const DEFAULT_WINDOW_MS = 60_000;

/** The key for one endpoint, remote address and account. */
export function rateLimitKey(endpoint: string, remoteAddr: string, account: string): string {
  return `${endpoint}|${remoteAddr}|${account}`;
}

/** Whether `key` is currently locked out. */
export function rateLimitState(
  db: DatabaseSync,
  key: string,
  nowMs: number,
  options: RateLimitOptions = {},
): RateLimitState {
  const maxFailures = options.maxFailures ?? DEFAULT_MAX_FAILURES;
  const windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
  const rows = db.prepare(
    "SELECT at_ms AS atMs FROM auth_failures WHERE key = ? AND at_ms > ? ORDER BY at_ms DESC LIMIT ?",
  ).all(key, nowMs - windowMs, maxFailures) as { atMs: number }[];
  if (rows.length < maxFailures) return { limited: false, retryAfterS: 0 };
  const oldest = rows[rows.length - 1].atMs;
  return { limited: true, retryAfterS: Math.max(1, Math.ceil((oldest + windowMs - nowMs) / 1000)) };
}

/** Records one failed attempt and forgets failures that have left every window. */
export function recordFailure(
  db: DatabaseSync,
  key: string,
  nowMs: number,
  options: RateLimitOptions = {},
): void {
  const windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
  db.prepare("INSERT INTO auth_failures (key, at_ms) VALUES (?, ?)").run(key, nowMs);
  db.prepare("DELETE FROM auth_failures WHERE at_ms <= ?").run(nowMs - windowMs);
}

/** Forgets the failures of `key` after a success. */
export function clearFailures(db: DatabaseSync, key: string): void {
  db.prepare("DELETE FROM auth_failures WHERE key = ?").run(key);
}
