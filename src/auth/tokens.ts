/**
 * OAuth tokens at rest: minted as 256 random bits, stored only as SHA-256 hashes, looked up by
 * hash and confirmed with a constant-time compare, expiring and revocable.
 *
 * Four kinds, as ESPI assigns them: `access` (reads one Subscription), `refresh` (mints new
 * access tokens for one authorization), `client` (client_credentials: Authorization and
 * ReadServiceStatus) and `registration` (the app's ApplicationInformation).
 *
 * Bounded: an app holds at most `CLIENT_TOKENS_MAX` client tokens (a new one evicts the oldest),
 * expired tokens and revoked access/client tokens are swept, and revoked refresh tokens are kept
 * until they expire (at most `ROTATED_REFRESH_KEPT` per authorization) only so that a replay can be
 * recognised.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { get, statement } from "../store/statements.ts";
import { hashesMatch, hashSecret, randomSecret } from "./secrets.ts";

export type TokenKind = "access" | "refresh" | "client" | "registration";

export const ACCESS_TOKEN_EXPIRES_IN_S = 3600;
export const CLIENT_TOKEN_EXPIRES_IN_S = 3600;
export const REFRESH_TOKEN_EXPIRES_IN_S = 90 * 24 * 3600;
/** Live client_credentials tokens per app; minting one more revokes (deletes) the oldest. */
export const CLIENT_TOKENS_MAX = 10;
/** Rotated refresh tokens remembered per authorization for replay detection. */
export const ROTATED_REFRESH_KEPT = 10;
/** Longer presented tokens are not looked up (ours are 43 characters). */
export const MAX_TOKEN_CHARS = 512;

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
  statement(
    db,
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
  if (options.kind === "client") {
    // Keep the new token and the newest CLIENT_TOKENS_MAX - 1 others (ties in created_ms are
    // broken arbitrarily, never against the new one).
    statement(
      db,
      `DELETE FROM oauth_tokens WHERE kind = 'client' AND client_id = ? AND token_id != ?
         AND token_id NOT IN (SELECT token_id FROM oauth_tokens
           WHERE kind = 'client' AND client_id = ? AND token_id != ?
           ORDER BY created_ms DESC LIMIT ?)`,
    ).run(options.clientId, tokenId, options.clientId, tokenId, CLIENT_TOKENS_MAX - 1);
  }
  return { token, tokenId, expiresAtMs };
}

/** The live token behind `token`, or null when unknown, expired or revoked. */
export function findToken(db: DatabaseSync, token: string, nowMs: number): TokenRecord | null {
  const row = storedToken(db, token);
  if (row === null || row.revokedMs !== null) return null;
  if (row.expiresAtMs !== null && row.expiresAtMs <= nowMs) return null;
  return toRecord(row);
}

/**
 * A refresh token that was revoked (by rotation, or with its authorization) and has not expired,
 * or null. Presenting one is a replay: someone else may hold its successor.
 */
export function findRevokedRefreshToken(
  db: DatabaseSync,
  token: string,
  nowMs: number,
): TokenRecord | null {
  const row = storedToken(db, token);
  if (row === null || row.kind !== "refresh" || row.revokedMs === null) return null;
  if (row.expiresAtMs !== null && row.expiresAtMs <= nowMs) return null;
  return toRecord(row);
}

type StoredToken = TokenRecord & { tokenHash: string; revokedMs: number | null };

function storedToken(db: DatabaseSync, token: string): StoredToken | null {
  if (token === "" || token.length > MAX_TOKEN_CHARS) return null;
  const tokenHash = hashSecret(token);
  const row = get<StoredToken>(
    db,
    `SELECT token_hash AS tokenHash, token_id AS tokenId, kind, client_id AS clientId,
       authorization_id AS authorizationId, expires_ms AS expiresAtMs, revoked_ms AS revokedMs
     FROM oauth_tokens WHERE token_hash = ?`,
    tokenHash,
  );
  // The index lookup finds the candidate; the constant-time compare is what accepts it (of the
  // hash already computed: hashing the token again would only cost another SHA-256).
  return row !== undefined && hashesMatch(tokenHash, row.tokenHash) ? row : null;
}

function toRecord(row: StoredToken): TokenRecord {
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
  const row = get<{ expiresAtMs: number | null; revokedMs: number | null }>(
    db,
    "SELECT expires_ms AS expiresAtMs, revoked_ms AS revokedMs FROM oauth_tokens WHERE token_id = ?",
    tokenId,
  );
  return row !== undefined && row.revokedMs === null &&
    (row.expiresAtMs === null || row.expiresAtMs > nowMs);
}

/** Revokes one token by its id; true when it was live. */
export function revokeToken(db: DatabaseSync, tokenId: string, nowMs: number): boolean {
  const result = statement(
    db,
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
  const result = statement(
    db,
    "UPDATE oauth_tokens SET revoked_ms = ? WHERE authorization_id = ? AND revoked_ms IS NULL",
  ).run(nowMs, authorizationId);
  return Number(result.changes);
}

/**
 * Refresh-token rotation: revokes every token of the authorization and forgets all but the newest
 * `ROTATED_REFRESH_KEPT` revoked refresh tokens, so an app refreshing in a loop stays bounded.
 */
export function rotateAuthorizationTokens(
  db: DatabaseSync,
  authorizationId: string,
  nowMs: number,
): void {
  revokeAuthorizationTokens(db, authorizationId, nowMs);
  statement(
    db,
    `DELETE FROM oauth_tokens WHERE authorization_id = ? AND kind = 'refresh'
       AND token_id NOT IN (SELECT token_id FROM oauth_tokens
         WHERE authorization_id = ? AND kind = 'refresh' ORDER BY created_ms DESC LIMIT ?)`,
  ).run(authorizationId, authorizationId, ROTATED_REFRESH_KEPT);
}

/**
 * Deletes expired tokens, revoked access and client tokens, and the revoked refresh tokens of
 * revoked authorizations (nothing left to protect); returns how many.
 */
export function sweepTokens(db: DatabaseSync, nowMs: number): number {
  return Number(
    statement(
      db,
      `DELETE FROM oauth_tokens WHERE expires_ms <= ?
         OR (revoked_ms IS NOT NULL AND (kind != 'refresh' OR authorization_id IN
           (SELECT authorization_id FROM oauth_authorizations WHERE status = 'revoked')))`,
    ).run(nowMs).changes,
  );
}

/**
 * Expiry of the newest access token of an authorization (ESPI `Authorization.expires_at`); null
 * when none was issued or it does not expire.
 */
export function accessTokenExpiryMs(db: DatabaseSync, authorizationId: string): number | null {
  const row = get<{ expiresMs: number | null }>(
    db,
    `SELECT expires_ms AS expiresMs FROM oauth_tokens
     WHERE authorization_id = ? AND kind = 'access' ORDER BY created_ms DESC LIMIT 1`,
    authorizationId,
  );
  return row?.expiresMs ?? null;
}
