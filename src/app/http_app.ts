/**
 * The HTTP application: the route list of every feature, in one order, served by the one guard
 * chain (`src/http/server.ts`). `createApp` uses it for `openseg serve`; tests and benchmarks use
 * it with the features they need instead of wiring routes themselves.
 *
 * @module
 */

import { failureLimiter } from "../auth/failure_limiter.ts";
import { authRoutes } from "../auth/oauth.ts";
import { espiRoutes } from "../espi/routes.ts";
import type { GraphqlRoutesOptions } from "../graphql/server.ts";
import type { Route } from "../http/routes.ts";
import { type HttpServer, type HttpServerOptions, startHttpServer } from "../http/server.ts";
import { type HealthOptions, healthRoute } from "./health.ts";
import { type HealthzOptions, healthzRoute } from "./healthz.ts";
import { lazyRoutes } from "./lazy_routes.ts";
import { type MetricsOptions, metricsRoute } from "./metrics.ts";
import { spreadsheetRoutes } from "./spreadsheet_download.ts";
import { staticRoutes } from "./static.ts";

export interface HttpAppOptions extends Omit<HttpServerOptions, "routes"> {
  /** `GET /health`. */
  health?: HealthOptions;
  /** `GET /healthz`. */
  healthz?: HealthzOptions;
  /** The OAuth authorization server and the owner's pages. */
  auth?: boolean;
  /** The ESPI resource server, and the spreadsheet download under the same access rule. */
  espi?: boolean;
  /** `/graphql`, loaded on its first request. */
  graphql?: GraphqlRoutesOptions;
  /** The dashboard; `assets` overrides where the built files are read from. */
  web?: { assets?: URL };
  /** `GET /metrics`; the server's own connection and admission counts are added. */
  metrics?: MetricsOptions;
  /** More routes after the features' (tests). */
  routes?: Route[];
}

/** The routes of the chosen features, in matching order. */
export function appRoutes(options: Omit<HttpAppOptions, keyof HttpServerOptions>): Route[] {
  const graphql = options.graphql;
  return [
    ...(options.health ? [healthRoute(options.health)] : []),
    ...(options.healthz ? [healthzRoute(options.healthz)] : []),
    ...(options.auth ? authRoutes() : []),
    ...(options.espi ? espiRoutes : []),
    ...(options.espi ? spreadsheetRoutes : []),
    // GraphQL loads on its first request: a box nobody is looking at saves yoga's memory.
    ...(graphql
      ? lazyRoutes(
        (["GET", "POST", "PUT", "DELETE"] as const).map((method) => ({ method, path: "/graphql" })),
        async () => (await import("../graphql/server.ts")).graphqlRoutes(graphql),
      )
      : []),
    ...(options.web ? staticRoutes(options.web.assets) : []),
    ...(options.metrics ? [metricsRoute(options.metrics)] : []),
  ];
}

/** Builds the routes of the chosen features and serves them. */
export function createHttpApp(options: HttpAppOptions): HttpServer {
  const {
    health,
    healthz,
    auth,
    espi,
    graphql,
    web,
    metrics: metricsOptions,
    routes,
    ...serverOptions
  } = options;
  let server: HttpServer | null = null;
  // The metrics route reports the server it is served by.
  const metrics = metricsOptions && { http: () => server!.stats(), ...metricsOptions };
  server = startHttpServer({
    ...serverOptions,
    // The sign-in and OAuth routes' failure budgets live in the gateway's database.
    rateLimiter: serverOptions.rateLimiter ?? failureLimiter(serverOptions.services),
    routes: [...appRoutes({ health, healthz, auth, espi, graphql, web, metrics }), ...routes ?? []],
  });
  return server;
}
