/**
 * The owner (customer) account: one password per gateway, hashed with scrypt and a random salt,
 * verified in constant time; and the first-run setup code that lets whoever can read the console
 * choose that password through the browser.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { get, statement } from "../store/statements.ts";
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import type { DatabaseSync } from "node:sqlite";
import { withHashSlot } from "./hash_slots.ts";
import { hashesMatch, hashSecret } from "./secrets.ts";

export const MIN_PASSWORD_LENGTH = 10;
export const MAX_PASSWORD_LENGTH = 1024;
/** A setup code is good until the next restart or this long, whichever comes first. */
export const SETUP_CODE_EXPIRES_IN_S = 24 * 3600;

/** scrypt cost: N=2^15 keeps a guess at ~50 ms and 32 MiB, cheap for one login, dear for many. */
const SCRYPT = { N: 32768, r: 8, p: 1, keyBytes: 32, saltBytes: 16 };

/** Why a password cannot be used, or null when it is acceptable. */
export function passwordProblem(password: string): string | null {
  if (password.length < MIN_PASSWORD_LENGTH) {
    return `the password needs at least ${MIN_PASSWORD_LENGTH} characters`;
  }
  if (password.length > MAX_PASSWORD_LENGTH) return "the password is too long";
  return null;
}

/**
 * `scrypt$N$r$p$salt$hash` (salt and hash base64url). Throws `HashingBusyError` when hashing is at
 * capacity (see `hash_slots.ts`), as does `verifyPassword`.
 */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SCRYPT.saltBytes);
  const key = await derive(password, salt, SCRYPT.N, SCRYPT.r, SCRYPT.p, SCRYPT.keyBytes);
  return [
    "scrypt",
    SCRYPT.N,
    SCRYPT.r,
    SCRYPT.p,
    salt.toString("base64url"),
    key.toString("base64url"),
  ]
    .join("$");
}

/** True when `password` matches the stored `scrypt$…` hash (constant-time). */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, saltText, keyText] = stored.split("$");
  if (scheme !== "scrypt" || keyText === undefined) return false;
  // Cost parameters come from the stored hash; refuse ones this build would not have written.
  if (![n, r, p].every((v) => /^\d{1,7}$/.test(v)) || Number(n) > 1 << 20) return false;
  const expected = Buffer.from(keyText, "base64url");
  const salt = Buffer.from(saltText, "base64url");
  const key = await derive(password, salt, Number(n), Number(r), Number(p), expected.length);
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** Sets (or replaces) the owner password; ends every session and any pending setup code. */
export async function setOwnerPassword(
  db: DatabaseSync,
  password: string,
  nowMs: number,
): Promise<void> {
  const problem = passwordProblem(password);
  if (problem !== null) throw new RangeError(problem);
  const hash = await hashPassword(password);
  db.exec("BEGIN IMMEDIATE");
  try {
    statement(
      db,
      `INSERT INTO owner_account (id, password_hash, setup_code_hash, setup_code_expires_ms,
         updated_ms) VALUES (1, ?, NULL, NULL, ?)
       ON CONFLICT (id) DO UPDATE SET password_hash = excluded.password_hash,
         setup_code_hash = NULL, setup_code_expires_ms = NULL, updated_ms = excluded.updated_ms`,
    ).run(hash, nowMs);
    // A new password must lock out whoever knew the old one.
    db.exec("DELETE FROM owner_sessions");
    db.exec("COMMIT");
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}

/** True once the owner has a password. */
export function ownerHasPassword(db: DatabaseSync): boolean {
  return storedPasswordHash(db) !== null;
}

/** Checks the owner password; false when none is set. */
export async function checkOwnerPassword(db: DatabaseSync, password: string): Promise<boolean> {
  const stored = storedPasswordHash(db);
  if (stored === null || password.length > MAX_PASSWORD_LENGTH) return false;
  return await verifyPassword(password, stored);
}

/**
 * Issues a fresh one-time setup code (replacing any earlier one) for a gateway without a password;
 * returns null when a password is already set.
 */
export function issueSetupCode(db: DatabaseSync, nowMs: number): string | null {
  if (ownerHasPassword(db)) return null;
  // Ten characters from an unambiguous alphabet: typed by hand, guarded by the rate limit.
  const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  const code = Array.from(randomBytes(10), (byte) => alphabet[byte % alphabet.length]).join("");
  statement(
    db,
    `INSERT INTO owner_account (id, password_hash, setup_code_hash, setup_code_expires_ms,
       updated_ms) VALUES (1, NULL, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET setup_code_hash = excluded.setup_code_hash,
       setup_code_expires_ms = excluded.setup_code_expires_ms, updated_ms = excluded.updated_ms`,
  ).run(hashSecret(code), nowMs + SETUP_CODE_EXPIRES_IN_S * 1000, nowMs);
  return code;
}

/** True when `code` is the live setup code (it stays valid until a password is set). */
export function setupCodeMatches(db: DatabaseSync, code: string, nowMs: number): boolean {
  const row = get<{ hash: string | null; expiresMs: number | null; pw: string | null }>(
    db,
    `SELECT setup_code_hash AS hash, setup_code_expires_ms AS expiresMs, password_hash AS pw
     FROM owner_account WHERE id = 1`,
  );
  if (row?.hash == null || row.pw !== null || (row.expiresMs ?? 0) <= nowMs) return false;
  const normalized = code.trim().toUpperCase().replaceAll("-", "").replaceAll(" ", "");
  return hashesMatch(hashSecret(normalized), row.hash);
}

function storedPasswordHash(db: DatabaseSync): string | null {
  const row = get<{ hash: string | null }>(
    db,
    "SELECT password_hash AS hash FROM owner_account WHERE id = 1",
  );
  return row?.hash ?? null;
}

function derive(
  password: string,
  salt: Uint8Array,
  n: number,
  r: number,
  p: number,
  keyBytes: number,
): Promise<Buffer> {
  return withHashSlot(() =>
    new Promise((resolve, reject) => {
      scrypt(password, salt, keyBytes, { N: n, r, p, maxmem: 128 * n * r * 2 }, (error, key) => {
        if (error) reject(error);
        else resolve(key);
      });
    })
  );
}
