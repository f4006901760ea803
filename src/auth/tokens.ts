/**
 * OAuth tokens at rest: minted as 256 random bits, stored only as SHA-256 hashes, looked up by
 * hash and confirmed with a constant-time compare, expiring and revocable.
 *
 * Four kinds, as ESPI assigns them: `access` (reads one Subscription), `refresh` (mints new
 * access tokens for one authorization), `client` (client_credentials: Authorization and
 * ReadServiceStatus) and `registration` (the app's ApplicationInformation).
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { hashSecret, randomSecret, secretMatches } from "./secrets.ts";

export type TokenKind = "access" | "refresh" | "client" | "registration";

export const ACCESS_TOKEN_EXPIRES_IN_S = 3600;
export const CLIENT_TOKEN_EXPIRES_IN_S = 3600;
export const REFRESH_TOKEN_EXPIRES_IN_S = 90 * 24 * 3600;

export interface MintTokenOptions {
  kind: TokenKind;
  clientId: string;
  /** The customer authorization an access or refresh token belongs to. */
  authorizationId?: string;
  /** Lifetime; omitted = does not expire (registration tokens). */
  expiresInS?: number;
  nowMs: number;
}

export interface MintedToken {
  /** The bearer secret: shown to the client once, never stored. */
  token: string;
  /** Stable public handle of the token (for logs, `Caller.tokenId`, revocation). */
  tokenId: string;
  expiresAtMs: number | null;
}

/** An unexpired, unrevoked token. */
export interface TokenRecord {
  tokenId: string;
  kind: TokenKind;
  clientId: string;
  authorizationId: string | null;
  expiresAtMs: number | null;
}

/** Mints a token and stores its hash. */
export function mintToken(db: DatabaseSync, options: MintTokenOptions): MintedToken {
  const token = randomSecret();
  const tokenId = randomSecret(12);
  const expiresAtMs = options.expiresInS === undefined
    ? null
    : options.nowMs + options.expiresInS * 1000;
  db.prepare(
    `INSERT INTO oauth_tokens
       (token_hash, token_id, kind, client_id, authorization_id, created_ms, expires_ms)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    hashSecret(token),
    tokenId,
    options.kind,
    options.clientId,
    options.authorizationId ?? null,
    options.nowMs,
    expiresAtMs,
  );
  return { token, tokenId, expiresAtMs };
}

/** The live token behind `token`, or null when unknown, expired or revoked. */
export function findToken(db: DatabaseSync, token: string, nowMs: number): TokenRecord | null {
  if (token === "" || token.length > 512) return null;
  const row = db.prepare(
    `SELECT token_hash AS tokenHash, token_id AS tokenId, kind, client_id AS clientId,
       authorization_id AS authorizationId, expires_ms AS expiresAtMs, revoked_ms AS revokedMs
     FROM oauth_tokens WHERE token_hash = ?`,
  ).get(hashSecret(token)) as
    | (TokenRecord & { tokenHash: string; revokedMs: number | null })
    | undefined;
  // The index lookup finds the candidate; the constant-time compare is what accepts it.
  if (row === undefined || !secretMatches(token, row.tokenHash)) return null;
  if (row.revokedMs !== null) return null;
  if (row.expiresAtMs !== null && row.expiresAtMs <= nowMs) return null;
  return {
    tokenId: row.tokenId,
    kind: row.kind,
    clientId: row.clientId,
    authorizationId: row.authorizationId,
    expiresAtMs: row.expiresAtMs,
  };
}

/** True while the token with this id is neither revoked nor expired. */
export function tokenLive(db: DatabaseSync, tokenId: string, nowMs: number): boolean {
  const row = db.prepare(
    "SELECT expires_ms AS expiresAtMs, revoked_ms AS revokedMs FROM oauth_tokens WHERE token_id = ?",
  ).get(tokenId) as { expiresAtMs: number | null; revokedMs: number | null } | undefined;
  return row !== undefined && row.revokedMs === null &&
    (row.expiresAtMs === null || row.expiresAtMs > nowMs);
}

/** Revokes one token by its id; true when it was live. */
export function revokeToken(db: DatabaseSync, tokenId: string, nowMs: number): boolean {
  const result = db.prepare(
    "UPDATE oauth_tokens SET revoked_ms = ? WHERE token_id = ? AND revoked_ms IS NULL",
  ).run(nowMs, tokenId);
  return result.changes > 0;
}

/** Revokes every token of one authorization (all kinds); returns how many were live. */
export function revokeAuthorizationTokens(
  db: DatabaseSync,
  authorizationId: string,
  nowMs: number,
): number {
  const result = db.prepare(
    "UPDATE oauth_tokens SET revoked_ms = ? WHERE authorization_id = ? AND revoked_ms IS NULL",
  ).run(nowMs, authorizationId);
  return Number(result.changes);
}
