/**
 * CSRF defence for form POSTs, on top of `SameSite=Strict` cookies: the request must come from a
 * page of this gateway, as its `Origin` (or, failing that, `Referer`) header shows. "This gateway"
 * is the configured set of origins (`services.origins`, see `guards/host.ts`), never the `Host`
 * the request itself claims.
 *
 * @module
 */

import type { HttpServices } from "./routes.ts";

/** True when the request was sent by a page served from this gateway. */
export function fromOwnOrigin(
  request: Request,
  services: Pick<HttpServices, "publicBaseUrl" | "origins">,
): boolean {
  const allowed = new Set(services.origins ?? [new URL(services.publicBaseUrl).origin]);
  const origin = request.headers.get("origin");
  if (origin !== null) return allowed.has(origin);
  const referer = request.headers.get("referer");
  if (referer === null) return false;
  try {
    return allowed.has(new URL(referer).origin);
  } catch {
    return false;
  }
}
