/**
 * Random secrets and their at-rest form: every credential the gateway hands out (session ids,
 * authorization codes, tokens, client secrets, setup codes) is 256 random bits, base64url, and only
 * its SHA-256 is stored, so a copy of the database grants nothing.
 *
 * @module
 */

import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

const encoder = new TextEncoder();

/** Bytes of randomness in every secret: 256 bits. */
export const SECRET_BYTES = 32;

/** A fresh random secret, base64url without padding (43 characters). */
export function randomSecret(bytes: number = SECRET_BYTES): string {
  return randomBytes(bytes).toString("base64url");
}

/** The stored form of a secret: SHA-256, base64url. */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("base64url");
}

/**
 * Compares two stored hashes in constant time, so response timing never tells an attacker how
 * many leading characters of a guess were right.
 */
export function hashesMatch(a: string, b: string): boolean {
  const left = encoder.encode(a);
  const right = encoder.encode(b);
  if (left.length !== right.length) return false;
  return timingSafeEqual(left, right);
}

/** True when `secret` hashes to `storedHash` (constant-time). */
export function secretMatches(secret: string, storedHash: string): boolean {
  return hashesMatch(hashSecret(secret), storedHash);
}
