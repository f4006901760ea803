/**
 * Matching a request to a route: first matching pattern wins; a path no route has is 404, a path
 * that exists under other methods is 405 with `Allow` (GET implies HEAD).
 *
 * @module
 */

import { jsonError } from "./errors.ts";
import type { Route } from "./routes.ts";

export interface RouteMatch {
  route: Route;
  params: Record<string, string | undefined>;
}

export type Router = (method: string, pathname: string) => RouteMatch | Response;

/** Compiles `routes` once. */
export function createRouter(routes: Route[]): Router {
  const compiled = routes.map((route) => ({
    route,
    pattern: new URLPattern({ pathname: route.path }),
  }));
  return (method, pathname) => {
    const wanted = method === "HEAD" ? "GET" : method;
    const matches = compiled
      .map(({ route, pattern }) => ({ route, match: pattern.exec({ pathname }) }))
      .filter((m) => m.match !== null);
    if (matches.length === 0) return jsonError(404, "not_found", "no such resource");
    const chosen = matches.find((m) => m.route.method === wanted);
    if (chosen === undefined) {
      const allowed: string[] = [...new Set(matches.map((m) => m.route.method))];
      if (allowed.includes("GET")) allowed.push("HEAD");
      return jsonError(405, "method_not_allowed", `use ${allowed.join(", ")}`, {
        Allow: allowed.join(", "),
      });
    }
    return { route: chosen.route, params: chosen.match!.pathname.groups };
  };
}
