/**
 * Authorization codes: single-use, expiring within five minutes, stored hashed, bound to the
 * client, the redirect_uri sent and the PKCE challenge.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { get, statement } from "../store/statements.ts";
import { hashSecret, randomSecret } from "./secrets.ts";

export const CODE_EXPIRES_IN_S = 300;
const KEEP_USED_MS = 24 * 3600 * 1000;

export interface IssueCodeOptions {
  authorizationId: string;
  clientId: string;
  /** The redirect_uri of the authorization request; null when it was omitted. */
  redirectUri: string | null;
  codeChallenge: string | null;
  nowMs: number;
}

/** A stored code, found by its secret; not yet checked against the presenting client. */
export interface StoredCode {
  codeHash: string;
  authorizationId: string;
  clientId: string;
  redirectUri: string | null;
  codeChallenge: string | null;
  expiresMs: number;
  /** When it was redeemed; null while unused. */
  usedMs: number | null;
}

/** Issues a code; returns the secret for the redirect. */
export function issueCode(db: DatabaseSync, options: IssueCodeOptions): string {
  const code = randomSecret();
  statement(
    db,
    `INSERT INTO oauth_codes (code_hash, authorization_id, client_id, redirect_uri,
       code_challenge, expires_ms) VALUES (?, ?, ?, ?, ?, ?)`,
  ).run(
    hashSecret(code),
    options.authorizationId,
    options.clientId,
    options.redirectUri,
    options.codeChallenge,
    options.nowMs + CODE_EXPIRES_IN_S * 1000,
  );
  return code;
}

/**
 * The code behind `code`, used or not, or null. It changes nothing: the caller checks client,
 * redirect_uri and verifier first and only then claims it, so a wrong presenter cannot burn it.
 */
export function findCode(db: DatabaseSync, code: string): StoredCode | null {
  if (code === "" || code.length > 256) return null;
  const row = get<StoredCode>(
    db,
    `SELECT code_hash AS codeHash, authorization_id AS authorizationId, client_id AS clientId,
       redirect_uri AS redirectUri, code_challenge AS codeChallenge, expires_ms AS expiresMs,
       used_ms AS usedMs FROM oauth_codes WHERE code_hash = ?`,
    hashSecret(code),
  );
  return row ?? null;
}

/** Marks a code used; false when it already was (of two concurrent redemptions one wins). */
export function claimCode(db: DatabaseSync, codeHash: string, nowMs: number): boolean {
  return statement(db, "UPDATE oauth_codes SET used_ms = ? WHERE code_hash = ? AND used_ms IS NULL")
    .run(nowMs, codeHash).changes > 0;
}

/**
 * Deletes unused codes past expiry and used ones a day past it (kept so that a replay is
 * recognised as one); returns how many.
 */
export function sweepCodes(db: DatabaseSync, nowMs: number): number {
  return Number(
    statement(
      db,
      `DELETE FROM oauth_codes WHERE expires_ms <= ?
         OR (used_ms IS NULL AND expires_ms <= ?)`,
    ).run(nowMs - KEEP_USED_MS, nowMs).changes,
  );
}
