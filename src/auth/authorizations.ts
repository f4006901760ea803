/**
 * Customer authorizations (ESPI Authorization + Subscription): created when the owner approves an
 * app on the consent page, each with opaque random `authorizationId` and `subscriptionId` and the
 * usage points granted; revoked by the owner or the app, which also kills its tokens.
 *
 * An approval on the consent page is *pending* until the app exchanges its code: it is listed
 * nowhere (it grants nothing yet) and is deleted by the sweep once the code has expired.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { all, get, statement } from "../store/statements.ts";
import type { Grant } from "./caller.ts";
import { parseScope } from "./scope.ts";
import { randomSecret } from "./secrets.ts";
import { revokeAuthorizationTokens } from "./tokens.ts";

export interface AuthorizationRecord {
  authorizationId: string;
  subscriptionId: string;
  clientId: string;
  /** The granted ESPI scope string. */
  scope: string;
  usagePointIds: string[];
  /** The household (RetailCustomer) that granted it. */
  householdId: number;
  status: "active" | "revoked";
  createdMs: number;
  revokedMs: number | null;
}

export interface CreateAuthorizationOptions {
  clientId: string;
  scope: string;
  usagePointIds: string[];
  /** The household granting it. */
  householdId: number;
  nowMs: number;
  /** Set by the consent page: the approval waits for its code until then. */
  codePendingUntilMs?: number;
}

/** Records an approved authorization and its subscription. */
export function createAuthorization(
  db: DatabaseSync,
  options: CreateAuthorizationOptions,
): AuthorizationRecord {
  const record: AuthorizationRecord = {
    authorizationId: randomSecret(16),
    subscriptionId: randomSecret(16),
    clientId: options.clientId,
    scope: options.scope,
    usagePointIds: [...options.usagePointIds],
    householdId: options.householdId,
    status: "active",
    createdMs: options.nowMs,
    revokedMs: null,
  };
  statement(
    db,
    `INSERT INTO oauth_authorizations (authorization_id, subscription_id, client_id, scope,
       usage_point_ids_json, household_id, status, created_ms, code_pending_until_ms)
       VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?)`,
  ).run(
    record.authorizationId,
    record.subscriptionId,
    record.clientId,
    record.scope,
    JSON.stringify(record.usagePointIds),
    record.householdId,
    record.createdMs,
    options.codePendingUntilMs ?? null,
  );
  return record;
}

/** One authorization by id (any status), or null. */
export function findAuthorization(
  db: DatabaseSync,
  authorizationId: string,
): AuthorizationRecord | null {
  const row = get<AuthorizationRow>(db, `${SELECT} WHERE authorization_id = ?`, authorizationId);
  return row === undefined ? null : toRecord(row);
}

/**
 * Authorizations (not pending ones), newest first; only one app's when `clientId` is given, only
 * one household's when `householdId` is.
 */
export function listAuthorizations(
  db: DatabaseSync,
  filter: { clientId?: string; householdId?: number } = {},
): AuthorizationRecord[] {
  // NULL matches every row: one statement for each combination of filters.
  return all<AuthorizationRow>(
    db,
    `${SELECT} WHERE code_pending_until_ms IS NULL
       AND (?1 IS NULL OR client_id = ?1) AND (?2 IS NULL OR household_id = ?2)
     ORDER BY created_ms DESC`,
    filter.clientId ?? null,
    filter.householdId ?? null,
  ).map(toRecord);
}

/** The app exchanged the code: the authorization is no longer pending. */
export function settleAuthorization(db: DatabaseSync, authorizationId: string): void {
  statement(
    db,
    "UPDATE oauth_authorizations SET code_pending_until_ms = NULL WHERE authorization_id = ?",
  ).run(authorizationId);
}

/** Deletes approvals whose code expired unexchanged (their codes go with them); returns how many. */
export function sweepPendingAuthorizations(db: DatabaseSync, nowMs: number): number {
  return Number(
    statement(db, "DELETE FROM oauth_authorizations WHERE code_pending_until_ms <= ?").run(nowMs)
      .changes,
  );
}

/** Revokes an authorization and all its tokens; false when unknown or already revoked. */
export function revokeAuthorization(
  db: DatabaseSync,
  authorizationId: string,
  nowMs: number,
): boolean {
  db.exec("BEGIN IMMEDIATE");
  try {
    const changed = statement(
      db,
      `UPDATE oauth_authorizations SET status = 'revoked', revoked_ms = ?
       WHERE authorization_id = ? AND status = 'active'`,
    ).run(nowMs, authorizationId).changes > 0;
    revokeAuthorizationTokens(db, authorizationId, nowMs);
    db.exec("COMMIT");
    return changed;
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}

/** The `Grant` of an active authorization, or null. */
export function grantOf(record: AuthorizationRecord): Grant | null {
  if (record.status !== "active") return null;
  return {
    authorizationId: record.authorizationId,
    subscriptionId: record.subscriptionId,
    applicationId: record.clientId,
    scope: parseScope(record.scope),
    usagePointIds: record.usagePointIds,
    householdId: record.householdId,
  };
}

const SELECT = `SELECT authorization_id AS authorizationId, subscription_id AS subscriptionId,
  client_id AS clientId, scope, usage_point_ids_json AS usagePointIds,
  household_id AS householdId, status,
  created_ms AS createdMs, revoked_ms AS revokedMs FROM oauth_authorizations`;

interface AuthorizationRow extends Omit<AuthorizationRecord, "usagePointIds"> {
  usagePointIds: string;
}

function toRecord(row: AuthorizationRow): AuthorizationRecord {
  return { ...row, usagePointIds: JSON.parse(row.usagePointIds) };
}
