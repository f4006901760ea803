/**
 * Routes whose module is imported on the first request they get, so a feature a box may never
 * serve costs no memory until someone asks for it (GraphQL's yoga stack is ~20 MB resident).
 *
 * @module
 */

import type { Route, RouteHandler } from "../http/routes.ts";

/** Placeholders for `routes` that load the real ones with `load()` on first use. */
export function lazyRoutes(
  routes: Pick<Route, "method" | "path">[],
  load: () => Promise<Route[]>,
): Route[] {
  let loaded: Promise<Route[]> | null = null;
  const real = (method: Route["method"], path: string): Promise<RouteHandler> => {
    // A failed import is retried on the next request instead of failing forever.
    loaded ??= load().catch((error) => {
      loaded = null;
      throw error;
    });
    return loaded.then((routes) => {
      const route = routes.find((r) => r.method === method && r.path === path);
      if (!route) throw new Error(`lazily loaded module has no route ${method} ${path}`);
      return route.handler;
    });
  };
  return routes.map(({ method, path }) => ({
    method,
    path,
    handler: async (request, context) => (await real(method, path))(request, context),
  }));
}
