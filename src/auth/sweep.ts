/**
 * Deleting what has expired from the access-control tables: failure rows out of their window,
 * sessions, codes, tokens and approvals whose code was never exchanged. Run from the endpoints
 * that create such rows (login, setup, token, revocation) at most once a minute, so the tables stay
 * bounded without a timer: no traffic, no growth.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { sweepPendingAuthorizations } from "./authorizations.ts";
import { sweepCodes } from "./codes.ts";
import { sweepFailures } from "./rate_limit.ts";
import { sweepSessions } from "./sessions.ts";
import { sweepTokens } from "./tokens.ts";

export const SWEEP_INTERVAL_MS = 60_000;

/** Rows deleted per table by one sweep. */
export interface SweepCounts {
  failures: number;
  sessions: number;
  codes: number;
  tokens: number;
  authorizations: number;
}

const lastSweepMs = new WeakMap<DatabaseSync, number>();

/** Deletes every expired row now (each table on its own: no step depends on another). */
export function sweepAuthState(db: DatabaseSync, nowMs: number): SweepCounts {
  lastSweepMs.set(db, nowMs);
  return {
    failures: sweepFailures(db, nowMs),
    sessions: sweepSessions(db, nowMs),
    authorizations: sweepPendingAuthorizations(db, nowMs),
    codes: sweepCodes(db, nowMs),
    tokens: sweepTokens(db, nowMs),
  };
}

/** Sweeps when the last sweep of this database is at least `SWEEP_INTERVAL_MS` old. */
export function sweepAuthStateIfDue(db: DatabaseSync, nowMs: number): void {
  const last = lastSweepMs.get(db);
  if (last === undefined || nowMs - last >= SWEEP_INTERVAL_MS || nowMs < last) {
    sweepAuthState(db, nowMs);
  }
}
