/**
 * `GET /health`: a liveness probe for monitors — ok, version and uptime, as JSON.
 *
 * @module
 */

import type { Route } from "../http/routes.ts";

export interface HealthOptions {
  version: string;
  startedMs: number;
}

/** The health route. */
export function healthRoute(options: HealthOptions): Route {
  return {
    method: "GET",
    path: "/health",
    // Answered even under overload: monitors must see the box alive while it refuses work.
    admission: "bypass",
    handler: (_request, context) =>
      Response.json({
        ok: true,
        version: options.version,
        uptimeS: Math.max(0, Math.round((context.services.nowMs() - options.startedMs) / 1000)),
      }),
  };
}
