/**
 * The segment-trie router answers exactly as running every route's URLPattern in order did
 * (the previous router): same route, same parameters, same 404 and 405 with `Allow`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { appRoutes } from "../../src/app/http_app.ts";
import { LiveBus } from "../../src/live/bus.ts";
import { createRouter } from "../../src/http/router.ts";
import type { Route } from "../../src/http/routes.ts";

/** The previous router: URLPattern.exec on every route. */
function reference(routes: Route[], method: string, pathname: string) {
  const wanted = method === "HEAD" ? "GET" : method;
  const matches = routes
    .map((route) => ({ route, match: new URLPattern({ pathname: route.path }).exec({ pathname }) }))
    .filter((m) => m.match !== null);
  if (matches.length === 0) return { status: 404 };
  const chosen = matches.find((m) => m.route.method === wanted);
  if (chosen === undefined) {
    const allowed: string[] = [...new Set(matches.map((m) => m.route.method))];
    if (allowed.includes("GET")) allowed.push("HEAD");
    return { status: 405, allow: allowed.join(", ") };
  }
  return { route: chosen.route, params: chosen.match!.pathname.groups };
}

const R = "/espi/1_1/resource";
const PATHS = [
  "/",
  "//",
  "/health",
  "/health/",
  "/HEALTH",
  "/healthz",
  "/metrics",
  "/graphql",
  "/owner",
  "/owner/login",
  "/owner/authorizations",
  "/owner/authorizations/7/revoke",
  "/owner/authorizations//revoke",
  "/owner/authorizations/7/revoke/x",
  "/assets/app.js",
  "/assets/",
  "/assets/a%20b.js",
  "/.well-known/oauth-authorization-server",
  "/oauth/authorize",
  "/oauth/token",
  `${R}/UsagePoint`,
  `${R}/UsagePoint/1`,
  `${R}/UsagePoint/1/UsageSummary`,
  `${R}/Subscription/5/UsagePoint/1/MeterReading/2/IntervalBlock/3`,
  `${R}/Batch/Subscription/5`,
  `${R}/Batch/RetailCustomer/9/UsagePoint`,
  `${R}/RetailCustomer/9/UsagePoint/1/MeterReading`,
  `${R}/ReadingType/`,
  `${R}/Authorization/%2F`,
  "/nope",
];

Deno.test("the trie router matches as URLPattern did, on every route of the app", () => {
  const routes: Route[] = [
    ...appRoutes({
      health: { version: "0", startedMs: 0 },
      healthz: {
        links: () => [],
        store: () => ({ count: 0, lastError: null, lastErrorMs: null, failing: false }),
      },
      auth: true,
      espi: true,
      graphql: { bus: new LiveBus(), supervisors: [], version: "0", startedMs: 0 },
      web: {},
      metrics: { live: { fragments: new Map(), linkChanges: new Map(), close: () => {} } },
    }),
    { method: "GET", path: "/files/*", handler: () => new Response() },
  ];
  const router = createRouter(routes);
  let compared = 0;
  for (const pathname of [...PATHS, "/files/a/b"]) {
    for (const method of ["GET", "HEAD", "POST", "PUT", "DELETE"]) {
      const expected = reference(routes, method, pathname);
      const actual = router(method, pathname);
      const label = `${method} ${pathname}`;
      if (actual instanceof Response) {
        assert.equal(actual.status, expected.status, label);
        assert.equal(actual.headers.get("allow") ?? undefined, expected.allow, label);
      } else {
        assert.equal(actual.route, expected.route, label);
        assert.deepEqual(actual.params, expected.params, label);
      }
      compared++;
    }
  }
  assert.equal(compared, (PATHS.length + 1) * 5);
});
