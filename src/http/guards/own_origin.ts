/**
 * The CSRF guard for the gateway's own forms, a step of the guard chain: a route marked
 * `origin: "own"` (the sign-in, consent and revoke forms) answers only requests sent by a page of
 * this gateway (`origin.ts`: `Origin`, or failing that `Referer`, among the configured origins).
 * Anything else gets a 403 page before its body is read. The session cookie is `SameSite=Strict`
 * on top; this also covers a browser that ignores that.
 *
 * @module
 */

import { htmlPage } from "../html.ts";
import { fromOwnOrigin } from "../origin.ts";
import type { HttpServices, Route } from "../routes.ts";

/** The refusal for a request to an own-origin route from elsewhere, or null to go on. */
export function checkOwnOrigin(
  request: Request,
  route: Route,
  services: Pick<HttpServices, "publicBaseUrl" | "origins">,
): Response | null {
  if (route.origin !== "own" || fromOwnOrigin(request, services)) return null;
  return htmlPage(
    "Request refused",
    "<p>This form must be sent from the gateway's own page.</p>",
    { status: 403 },
  );
}
