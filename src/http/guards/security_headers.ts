/**
 * The last step of the chain, on the way out: every response gets the security headers unless
 * its handler set its own value (HSTS only under TLS). The HTTP/1.1 writer adds them while it
 * writes the head (`http1/response_writer.ts`), so no response is copied to add them; it also
 * refuses to send a header value HTTP/1.1 does not allow (a control character, DEL), answering a
 * plain 500 instead, so one crafted link cannot corrupt or stop the server.
 *
 * @module
 */

const BASELINE: [string, string][] = [
  // Pages use no inline script or style; frames are refused outright.
  [
    "content-security-policy",
    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'",
  ],
  ["x-content-type-options", "nosniff"],
  // Not `no-referrer`: under it browsers send `Origin: null` on our own form POSTs, which the
  // CSRF check must refuse. `same-origin` still sends nothing to other sites.
  ["referrer-policy", "same-origin"],
  ["x-frame-options", "DENY"],
  // Every response is per-owner or per-token data (or an error); nothing may be cached.
  ["cache-control", "no-store"],
];

const HSTS: [string, string] = ["strict-transport-security", "max-age=31536000"];

/** The headers every response gets unless it has its own value; names in lower case. */
export function securityHeaders(tls: boolean): readonly [string, string][] {
  return tls ? [...BASELINE, HSTS] : BASELINE;
}
