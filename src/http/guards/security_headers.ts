/**
 * The last step of the chain, on the way out: every response gets the security headers (unless
 * its handler set its own value), and no response leaves with a header value the HTTP layer would
 * refuse. Deno aborts the whole process on "invalid response header value" (a control character,
 * DEL), so one crafted link could stop the gateway; here such a response becomes a plain 500.
 *
 * @module
 */

import { jsonError } from "../errors.ts";

const BASELINE: Record<string, string> = {
  // Pages use no inline script or style; frames are refused outright.
  "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'",
  "X-Content-Type-Options": "nosniff",
  // Not `no-referrer`: under it browsers send `Origin: null` on our own form POSTs, which the
  // CSRF check must refuse. `same-origin` still sends nothing to other sites.
  "Referrer-Policy": "same-origin",
  "X-Frame-Options": "DENY",
  // Every response is per-owner or per-token data (or an error); nothing may be cached.
  "Cache-Control": "no-store",
};

const HSTS = "max-age=31536000";

/** What HTTP/1.1 allows in a field value (RFC 9110 §5.5): visible ASCII, SP, HTAB, obs-text. */
const VALID_FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** The first header whose value cannot be sent, as `name`, or null. */
export function invalidHeader(headers: Headers): string | null {
  for (const [name, value] of headers) {
    if (!VALID_FIELD_VALUE.test(value)) return name;
  }
  return null;
}

export interface SecureResponseOptions {
  tls: boolean;
  /** Told when a handler built a header that cannot be sent (a bug to fix). */
  onInvalidHeader: (name: string) => void;
}

/** `response` with the security headers added (HSTS only under TLS) and its headers checked. */
export function secureResponse(response: Response, options: SecureResponseOptions): Response {
  const invalid = invalidHeader(response.headers);
  if (invalid !== null) {
    options.onInvalidHeader(invalid);
    response.body?.cancel().catch(() => {});
    response = jsonError(500, "server_error", "internal error");
  }
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(BASELINE)) {
    if (!headers.has(name)) headers.set(name, value);
  }
  if (options.tls && !headers.has("Strict-Transport-Security")) {
    headers.set("Strict-Transport-Security", HSTS);
  }
  return new Response(response.body, {
    status: response.status,
    statusText: response.statusText,
    headers,
  });
}
