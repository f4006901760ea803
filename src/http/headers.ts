/**
 * Security headers added to every response the server sends, unless a handler set its own value.
 *
 * @module
 */

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

/** Returns `response` with the security headers added (HSTS only under TLS). */
export function withSecurityHeaders(response: Response, tls: boolean): Response {
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(BASELINE)) {
    if (!headers.has(name)) headers.set(name, value);
  }
  if (tls && !headers.has("Strict-Transport-Security")) {
    headers.set("Strict-Transport-Security", HSTS);
  }
  return new Response(response.body, {
    status: response.status,
    statusText: response.statusText,
    headers,
  });
}
