/**
 * Authorization codes: single-use, expiring within five minutes, stored hashed, bound to the
 * client, the redirect_uri sent and the PKCE challenge.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
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

export interface CodeRecord {
  authorizationId: string;
  clientId: string;
  redirectUri: string | null;
  codeChallenge: string | null;
}

export type RedeemResult =
  | { ok: true; code: CodeRecord }
  /** `reused`: the code was redeemed before — its authorization's tokens must die (RFC 6749 §4.1.2). */
  | { ok: false; reason: "unknown" | "expired" | "reused"; authorizationId?: string };

/** Issues a code; returns the secret for the redirect. */
export function issueCode(db: DatabaseSync, options: IssueCodeOptions): string {
  const code = randomSecret();
  // Used codes are kept a day past expiry so a replay is recognised as one.
  db.prepare("DELETE FROM oauth_codes WHERE expires_ms <= ?").run(options.nowMs - KEEP_USED_MS);
  db.prepare(
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

/** Marks a code used (atomically: of two concurrent redemptions one wins) and returns it. */
export function redeemCode(db: DatabaseSync, code: string, nowMs: number): RedeemResult {
  if (code === "" || code.length > 256) return { ok: false, reason: "unknown" };
  const codeHash = hashSecret(code);
  const row = db.prepare(
    `SELECT authorization_id AS authorizationId, client_id AS clientId,
       redirect_uri AS redirectUri, code_challenge AS codeChallenge, expires_ms AS expiresMs,
       used_ms AS usedMs FROM oauth_codes WHERE code_hash = ?`,
  ).get(codeHash) as (CodeRecord & { expiresMs: number; usedMs: number | null }) | undefined;
  if (row === undefined) return { ok: false, reason: "unknown" };
  if (row.usedMs !== null) {
    return { ok: false, reason: "reused", authorizationId: row.authorizationId };
  }
  if (row.expiresMs <= nowMs) return { ok: false, reason: "expired" };
  const claimed = db.prepare(
    "UPDATE oauth_codes SET used_ms = ? WHERE code_hash = ? AND used_ms IS NULL",
  ).run(nowMs, codeHash).changes > 0;
  if (!claimed) return { ok: false, reason: "reused", authorizationId: row.authorizationId };
  return {
    ok: true,
    code: {
      authorizationId: row.authorizationId,
      clientId: row.clientId,
      redirectUri: row.redirectUri,
      codeChallenge: row.codeChallenge,
    },
  };
}
