/**
 * The one grammar for where a redirect after sign-in may go: a path on this gateway. The target
 * comes from the query string (`/owner/login?next=...`), so it is attacker-chosen; anything that
 * is not plainly a same-origin path becomes a fixed fallback (`/` unless the caller names one).
 *
 * Refused: absolute and scheme-relative URLs (`https://x`, `//x`), a backslash anywhere (browsers
 * read `/\x` as `//x`), and every control character — a TAB or CR/LF is dropped by browsers when
 * they parse the URL (so `/%09/evil.example` becomes `//evil.example`), and other controls make
 * an invalid `Location` header.
 *
 * @module
 */

/** `/` then RFC 3986 path and query characters (pchar, `/`, `?`, `%XX`); no fragment. */
const SAME_ORIGIN_PATH = /^\/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*$/;

/** `target` when it is a safe same-origin path, else `fallback` (itself such a path). */
export function sameOriginPath(target: string | null | undefined, fallback = "/"): string {
  if (target === null || target === undefined) return fallback;
  if (!SAME_ORIGIN_PATH.test(target) || target.startsWith("//")) return fallback;
  // A percent-encoded slash or backslash right after the first `/` is decoded by some servers
  // and proxies in front of us; refuse it too rather than reason about who decodes what.
  if (/^\/%(?:2f|5c)/i.test(target)) return fallback;
  return target;
}
