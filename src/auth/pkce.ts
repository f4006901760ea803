/**
 * PKCE (RFC 7636), S256 only: the `plain` method would let anyone who sees the authorization
 * request redeem the code.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { hashesMatch } from "./secrets.ts";

/** RFC 7636 §4.1: 43–128 unreserved characters. */
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
/** base64url of a SHA-256: 43 characters. */
const CHALLENGE = /^[A-Za-z0-9\-_]{43}$/;

/** True when `challenge` is a well-formed S256 code challenge. */
export function isS256Challenge(challenge: string): boolean {
  return CHALLENGE.test(challenge);
}

/** The S256 challenge of a verifier. */
export function s256Challenge(verifier: string): string {
  return createHash("sha256").update(verifier, "ascii").digest("base64url");
}

/** True when `verifier` is well-formed and hashes to `challenge` (constant-time). */
export function verifierMatches(verifier: string, challenge: string): boolean {
  return VERIFIER.test(verifier) && hashesMatch(s256Challenge(verifier), challenge);
}
