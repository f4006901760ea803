/**
 * Callers resolved from bearer tokens, remembered while the store stays as it was: an app polling
 * the API presents the same token again and again, and resolving it (the token's row, its
 * authorization's row, the scope parsed) is a third of a small query's work. A remembered caller
 * is used only at the store version it was resolved at (`storeVersion`: a revocation, a rotation,
 * any row changed by this process or another, makes every entry stale) and before its token
 * expires; so the answer is always the one reading the rows would give.
 *
 * Keyed by the token's SHA-256, never the token; only callers that resolved are kept, so tokens
 * made up by a client cost the same as before and take no room. Bounded in entries.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { storeVersion } from "../store/store_version.ts";
import type { Caller } from "./caller.ts";
import { hashSecret } from "./secrets.ts";

/** Tokens remembered per database: more than a home has apps polling at once. */
const REMEMBERED_MAX = 256;

interface Remembered {
  storeVersion: string;
  caller: Caller;
  /** When the token expires (Unix ms); null: never. */
  expiresAtMs: number | null;
}

const remembered = new WeakMap<DatabaseSync, Map<string, Remembered>>();

/** What a token resolves to, as resolved now. */
export interface Resolved {
  caller: Caller;
  expiresAtMs: number | null;
}

/**
 * The caller of `token`: remembered if the store has not changed since it was resolved and the
 * token has not expired, else `resolve()` (and remembered when it is not anonymous).
 */
export function tokenCaller(
  db: DatabaseSync,
  token: string,
  nowMs: number,
  resolve: () => Resolved,
): Caller {
  let callers = remembered.get(db);
  if (callers === undefined) remembered.set(db, callers = new Map());
  // A map lookup by hash: timing tells nothing about the token (finding a token with a given hash
  // prefix is a preimage attack on SHA-256).
  const tokenHash = hashSecret(token);
  const version = storeVersion(db);
  const known = callers.get(tokenHash);
  if (
    known !== undefined && known.storeVersion === version &&
    (known.expiresAtMs === null || known.expiresAtMs > nowMs)
  ) {
    return known.caller;
  }
  const resolved = resolve();
  callers.delete(tokenHash);
  if (resolved.caller.kind === "anonymous") return resolved.caller;
  callers.set(tokenHash, { storeVersion: version, ...resolved });
  // A Map iterates in insertion order: the first key is the longest unrefreshed.
  if (callers.size > REMEMBERED_MAX) callers.delete(callers.keys().next().value!);
  return resolved.caller;
}
