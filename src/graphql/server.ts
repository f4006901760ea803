/**
 * `/graphql` on the gateway's HTTP server: graphql-yoga over the schema built from
 * `schema/openseg.graphql` (imported as text, so bundles and binaries carry it), with queries and
 * mutations as JSON and subscriptions as server-sent events (yoga's built-in transport;
 * `graphql-sse` clients work).
 *
 * Every request is admitted first (`access.ts`); yoga then runs with the caller's `Access` in its
 * context. The query limits (`limits_plugin.ts`) refuse a document before it is validated;
 * introspection and GraphiQL are for the owner (or everyone with `dev`). A query text's repeat
 * runs are compiled by graphql-jit (`jit.ts`: a 48-hour series answers in half the time), and a
 * repeated query sure to succeed skips yoga's pipeline altogether (`fast_path.ts`); mutations and
 * subscriptions run on graphql-js, and so does any query whose compiled run reports an error, so
 * errors are graphql-js's own.
 *
 * Identical subscriptions share one execution per event (`shared_subscriptions.ts`). graphql-sse's
 * single-connection mode (`single_connection.ts`: PUT, and GET/POST/DELETE with a stream token)
 * runs each operation through the same handler. Answers are gzipped for clients that accept it.
 *
 * @module
 */

import { createSchema, createYoga } from "graphql-yoga";
import SCHEMA_SDL from "../../schema/openseg.graphql" with { type: "text" };
import type { GraphQLSchema } from "graphql";
import { compressResponse } from "../http/compress.ts";
import type { Route, RouteHandler } from "../http/routes.ts";
import { admitRequest } from "./access.ts";
import type { GatewayParts, GraphqlContext } from "./context.ts";
import { resolverDrift } from "./drift.ts";
import { fastPath, type FastPathStats } from "./fast_path.ts";
import { grantedDataPlugin } from "./granted_data.ts";
import { ownerIntrospectionPlugin } from "./introspection.ts";
import { jitQueriesPlugin } from "./jit.ts";
import { DEFAULT_QUERY_LIMITS, type QueryLimits } from "./limits.ts";
import { limitsPlugin } from "./limits_plugin.ts";
import { enforceRoles } from "./roles.ts";
import { resolvers } from "./resolvers.ts";
import {
  singleConnection,
  type SingleConnectionOptions,
  type SingleConnectionStats,
} from "./single_connection.ts";
import {
  sharedSubscriptions,
  type SharedSubscriptionsOptions,
  type SharedSubscriptionStats,
} from "./shared_subscriptions.ts";

export const GRAPHQL_PATH = "/graphql";
export const SCHEMA_URL = new URL("../../schema/openseg.graphql", import.meta.url);

export interface GraphqlRoutesOptions extends GatewayParts {
  /** `--graphql-dev`: GraphiQL and introspection for every admitted caller, not only the owner. */
  dev?: boolean;
  limits?: QueryLimits;
  subscriptions?: SharedSubscriptionsOptions;
  /** graphql-sse single-connection mode: its bounds. */
  singleConnection?: Omit<SingleConnectionOptions, "execute">;
  /** Receives the single-connection mode's counts once the routes exist. */
  onSingleConnectionStats?: (stats: SingleConnectionStats) => void;
  /** The fast path for repeated queries (`fast_path.ts`); default on. */
  fastPath?: boolean;
  /** Receives the fast path's counts once the routes exist. */
  onFastPathStats?: (stats: () => FastPathStats) => void;
  /** Receives the live subscription counts once the routes exist (for `/metrics`). */
  onSubscriptionStats?: (stats: SharedSubscriptionStats) => void;
}

/** The executable schema: the SDL file with the resolvers; throws when they drift apart. */
export function buildGraphqlSchema(sdl: string): GraphQLSchema {
  const schema = createSchema<GraphqlContext>({ typeDefs: sdl, resolvers });
  const drift = resolverDrift(schema, resolvers);
  if (drift.length > 0) {
    throw new Error(`GraphQL resolvers drifted from the SDL:\n  ${drift.join("\n  ")}`);
  }
  enforceRoles(schema);
  return schema;
}

/** GET, POST, PUT and DELETE `/graphql`, over the SDL embedded at build time. */
export function graphqlRoutes(options: GraphqlRoutesOptions): Route[] {
  const schema = buildGraphqlSchema(SCHEMA_SDL);
  const dev = options.dev ?? false;
  const gateway: GatewayParts = {
    bus: options.bus,
    supervisors: options.supervisors,
    version: options.version,
    startedMs: options.startedMs,
  };
  const limits = options.limits ?? DEFAULT_QUERY_LIMITS;
  const subscriptions = sharedSubscriptions(options.subscriptions);
  options.onSubscriptionStats?.(subscriptions.stats);
  const yoga = createYoga<GraphqlContext>({
    schema,
    graphqlEndpoint: GRAPHQL_PATH,
    logging: false,
    landingPage: false,
    graphiql: (_request, context) => dev || context.access.kind === "owner",
    plugins: [
      limitsPlugin(limits),
      ...(dev ? [] : [ownerIntrospectionPlugin()]),
      grantedDataPlugin(schema),
      jitQueriesPlugin(),
      // Last, so it shares the subscribe function the plugins before it have settled on.
      subscriptions.plugin,
    ],
  });
  const fast = options.fastPath === false ? null : fastPath({ schema, limits });
  if (fast !== null) options.onFastPathStats?.(fast.stats);
  const execute: RouteHandler = async (request, context) => {
    const access = admitRequest(request, context.services);
    if (access instanceof Response) return access;
    const graphqlContext = { access, services: context.services, gateway };
    const answer = fast === null ? request : await fast.answer(request, graphqlContext);
    if (answer instanceof Response) return answer;
    return await compressResponse(request, await yoga.fetch(answer, graphqlContext));
  };
  const single = singleConnection({ execute, ...options.singleConnection });
  options.onSingleConnectionStats?.(single.stats);
  const handler: RouteHandler = (request, context) =>
    single.handles(request) ? single.serve(request, context) : execute(request, context);
  return [
    { method: "GET", path: GRAPHQL_PATH, handler },
    { method: "POST", path: GRAPHQL_PATH, handler },
    { method: "PUT", path: GRAPHQL_PATH, handler: single.reserve },
    { method: "DELETE", path: GRAPHQL_PATH, handler: single.stop },
  ];
}
