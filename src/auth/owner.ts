/**
 * Sign-in accounts: the administrator's (one per gateway; in a single home also the household's)
 * and each household's. Passwords are hashed with scrypt and a random salt and verified in constant
 * time; a one-time setup code (printed on the console, or by `openseg households`) lets whoever
 * holds it choose the account's password through the browser.
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

/**
 * Whose credentials: the administrator's (the one `owner_account` row; in a single home also the
 * household's) or one household's (its row in `households`).
 */
export type Account = { kind: "administrator" } | { kind: "household"; householdId: number };

export const ADMINISTRATOR: Account = { kind: "administrator" };

/** A household's setup code is handed on by the administrator, so it lives longer. */
export const HOUSEHOLD_SETUP_CODE_EXPIRES_IN_S = 14 * 24 * 3600;

/**
 * Sets (or replaces) an account's password; ends the account's sessions and any pending setup
 * code. A household must exist already.
 */
export async function setOwnerPassword(
  db: DatabaseSync,
  password: string,
  nowMs: number,
  account: Account = ADMINISTRATOR,
): Promise<void> {
  const problem = passwordProblem(password);
  if (problem !== null) throw new RangeError(problem);
  const hash = await hashPassword(password);
  db.exec("BEGIN IMMEDIATE");
  try {
    writeCredentials(
      db,
      account,
      { passwordHash: hash, setupCodeHash: null, expiresMs: null },
      nowMs,
    );
    // A new password must lock out whoever knew the old one.
    endAccountSessions(db, account);
    db.exec("COMMIT");
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}

/** True once the administrator (`account` omitted) or the given account has a password. */
export function ownerHasPassword(db: DatabaseSync, account: Account = ADMINISTRATOR): boolean {
  return credentials(db, account)?.passwordHash != null;
}

/** Checks an account's password; false when none is set. */
export async function checkOwnerPassword(
  db: DatabaseSync,
  password: string,
  account: Account = ADMINISTRATOR,
): Promise<boolean> {
  const stored = credentials(db, account)?.passwordHash ?? null;
  if (stored === null || password.length > MAX_PASSWORD_LENGTH) return false;
  return await verifyPassword(password, stored);
}

let noOnesHash: Promise<string> | undefined;

/** Costs what checking a real password costs and is always false (for an unknown account). */
export async function checkPasswordOfNoOne(password: string): Promise<boolean> {
  noOnesHash ??= hashPassword(randomBytes(16).toString("base64url")).catch((error) => {
    noOnesHash = undefined; // busy: try again next time
    throw error;
  });
  await verifyPassword(password.slice(0, MAX_PASSWORD_LENGTH), await noOnesHash);
  return false;
}

/**
 * Issues a fresh one-time setup code (replacing any earlier one) for the administrator while it
 * has no password; returns null once it has one.
 */
export function issueSetupCode(db: DatabaseSync, nowMs: number): string | null {
  if (ownerHasPassword(db)) return null;
  const code = newSetupCode();
  const expiresMs = nowMs + SETUP_CODE_EXPIRES_IN_S * 1000;
  writeCredentials(db, ADMINISTRATOR, {
    passwordHash: null,
    setupCodeHash: hashSecret(code),
    expiresMs,
  }, nowMs);
  return code;
}

/**
 * Re-keys a household: its password (if any) is cleared, its sessions end, and a new one-time
 * setup code is returned for the administrator to hand on. Its data and authorizations stay.
 */
export function rekeyHousehold(db: DatabaseSync, householdId: number, nowMs: number): string {
  const account: Account = { kind: "household", householdId };
  if (credentials(db, account) === null) throw new RangeError("no such household");
  const code = newSetupCode();
  const expiresMs = nowMs + HOUSEHOLD_SETUP_CODE_EXPIRES_IN_S * 1000;
  db.exec("BEGIN IMMEDIATE");
  try {
    writeCredentials(db, account, {
      passwordHash: null,
      setupCodeHash: hashSecret(code),
      expiresMs,
    }, nowMs);
    endAccountSessions(db, account);
    db.exec("COMMIT");
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
  return code;
}

/** True when `code` is the administrator's live setup code. */
export function setupCodeMatches(db: DatabaseSync, code: string, nowMs: number): boolean {
  return accountForSetupCode(db, code, nowMs)?.kind === "administrator";
}

/**
 * The account whose live setup code `code` is (a code stays valid until a password is set or it
 * expires), or null.
 */
export function accountForSetupCode(db: DatabaseSync, code: string, nowMs: number): Account | null {
  const normalized = code.trim().toUpperCase().replaceAll("-", "").replaceAll(" ", "");
  if (normalized === "" || normalized.length > 64) return null;
  const hash = hashSecret(normalized);
  const admin = credentials(db, ADMINISTRATOR);
  if (admin !== null && pendingCodeMatches(admin, hash, nowMs)) return ADMINISTRATOR;
  // Looked up by the hash of a random code: the lookup reveals nothing a guess did not know.
  const row = get<{ householdId: number } & Credentials>(
    db,
    `SELECT household_id AS householdId, ${CREDENTIAL_COLUMNS} FROM households
     WHERE setup_code_hash = ?`,
    hash,
  );
  if (row === undefined || !pendingCodeMatches(row, hash, nowMs)) return null;
  return { kind: "household", householdId: row.householdId };
}

/** True while some account waits for its setup code (the setup page is then open). */
export function setupPending(db: DatabaseSync, nowMs: number): boolean {
  if (!ownerHasPassword(db)) return true;
  return get<{ n: number }>(
    db,
    `SELECT count(*) AS n FROM households WHERE password_hash IS NULL
       AND setup_code_hash IS NOT NULL AND setup_code_expires_ms > ?`,
    nowMs,
  )!.n > 0;
}

/**
 * When the account's one-time setup code stops working, while one waits to be used; null when it
 * has a password, no code, or only an expired one.
 */
export function setupCodeExpiresMs(
  db: DatabaseSync,
  account: Account,
  nowMs: number,
): number | null {
  const row = credentials(db, account);
  if (row === null || row.passwordHash !== null || row.setupCodeHash === null) return null;
  return (row.expiresMs ?? 0) > nowMs ? row.expiresMs : null;
}

interface Credentials {
  passwordHash: string | null;
  setupCodeHash: string | null;
  expiresMs: number | null;
}

const CREDENTIAL_COLUMNS = `password_hash AS passwordHash, setup_code_hash AS setupCodeHash,
  setup_code_expires_ms AS expiresMs`;

function pendingCodeMatches(row: Credentials, hash: string, nowMs: number): boolean {
  if (row.setupCodeHash === null || row.passwordHash !== null) return false;
  return (row.expiresMs ?? 0) > nowMs && hashesMatch(hash, row.setupCodeHash);
}

function credentials(db: DatabaseSync, account: Account): Credentials | null {
  const row = account.kind === "administrator"
    ? get<Credentials>(db, `SELECT ${CREDENTIAL_COLUMNS} FROM owner_account WHERE id = 1`)
    : get<Credentials>(
      db,
      `SELECT ${CREDENTIAL_COLUMNS} FROM households WHERE household_id = ?`,
      account.householdId,
    );
  return row ?? null;
}

function writeCredentials(
  db: DatabaseSync,
  account: Account,
  values: Credentials,
  nowMs: number,
): void {
  if (account.kind === "administrator") {
    statement(
      db,
      `INSERT INTO owner_account (id, password_hash, setup_code_hash, setup_code_expires_ms,
         updated_ms) VALUES (1, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET password_hash = excluded.password_hash,
         setup_code_hash = excluded.setup_code_hash,
         setup_code_expires_ms = excluded.setup_code_expires_ms, updated_ms = excluded.updated_ms`,
    ).run(values.passwordHash, values.setupCodeHash, values.expiresMs, nowMs);
    return;
  }
  const changed = statement(
    db,
    `UPDATE households SET password_hash = ?, setup_code_hash = ?, setup_code_expires_ms = ?,
       updated_ms = ? WHERE household_id = ?`,
  ).run(values.passwordHash, values.setupCodeHash, values.expiresMs, nowMs, account.householdId)
    .changes;
  if (changed === 0) throw new RangeError("no such household");
}

function endAccountSessions(db: DatabaseSync, account: Account): void {
  if (account.kind === "administrator") {
    statement(db, "DELETE FROM owner_sessions WHERE household_id IS NULL").run();
  } else {
    statement(db, "DELETE FROM owner_sessions WHERE household_id = ?").run(account.householdId);
  }
}

function newSetupCode(): string {
  // Ten characters from an unambiguous alphabet: typed by hand, guarded by the rate limit.
  const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  return Array.from(randomBytes(10), (byte) => alphabet[byte % alphabet.length]).join("");
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
