/**
 * `/graphql` on the gateway's HTTP server: graphql-yoga over the schema built from
 * `schema/openseg.graphql` (imported as text, so bundles and binaries carry it), with queries and
 * mutations as JSON and subscriptions as server-sent events (yoga's built-in transport;
 * `graphql-sse` clients work).
 *
 * Every request is admitted first (`access.ts`); yoga then runs with the caller's `Access` in its
 * context. Validation adds the query limits; introspection and GraphiQL are for the owner (or
 * everyone with `dev`). A query text's repeat runs are compiled by graphql-jit (`jit.ts`: a 48-hour
 * series answers in half the time); mutations and subscriptions run on graphql-js, and so does any
 * query whose compiled run reports an error, so errors are graphql-js's own.
 *
 * Identical subscriptions share one execution per event (`shared_subscriptions.ts`). graphql-sse's
 * single-connection mode (`single_connection.ts`: PUT, and GET/POST/DELETE with a stream token)
 * runs each operation through the same handler. Answers are gzipped for clients that accept it.
 *
 * @module
 */

import { createSchema, createYoga, isAsyncIterable, type Plugin } from "graphql-yoga";
import SCHEMA_SDL from "../../schema/openseg.graphql" with { type: "text" };
import {
  type DocumentNode,
  type ExecutionResult,
  GraphQLError,
  type GraphQLSchema,
  Kind,
  parse,
  type ParseOptions,
  type Source,
  visit,
} from "graphql";
import { compressResponse } from "../http/compress.ts";
import type { Route, RouteHandler } from "../http/routes.ts";
import { admitRequest } from "./access.ts";
import type { GatewayParts, GraphqlContext } from "./context.ts";
import { resolverDrift } from "./drift.ts";
import { apiError } from "./errors.ts";
import { grantedDataPlugin } from "./granted_data.ts";
import { jitQueriesPlugin } from "./jit.ts";
import {
  DEFAULT_QUERY_LIMITS,
  documentSizeError,
  limitError,
  queryLimitErrors,
  type QueryLimits,
} from "./limits.ts";
import { enforceOwnerOnly } from "./owner_only.ts";
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
  enforceOwnerOnly(schema);
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
  const subscriptions = sharedSubscriptions(options.subscriptions);
  options.onSubscriptionStats?.(subscriptions.stats);
  const yoga = createYoga<GraphqlContext>({
    schema,
    graphqlEndpoint: GRAPHQL_PATH,
    logging: false,
    landingPage: false,
    graphiql: (_request, context) => dev || context.access.kind === "owner",
    plugins: [
      limitsPlugin(options.limits ?? DEFAULT_QUERY_LIMITS),
      ...(dev ? [] : [ownerIntrospectionPlugin()]),
      grantedDataPlugin(schema),
      jitQueriesPlugin(),
      // Last, so it shares the subscribe function the plugins before it have settled on.
      subscriptions.plugin,
    ],
  });
  const execute: RouteHandler = async (request, context) => {
    const access = admitRequest(request, context.services);
    if (access instanceof Response) return access;
    const response = await yoga.fetch(request, { access, services: context.services, gateway });
    return await compressResponse(request, response);
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

/**
 * Enforces `limits` before any expensive work: the document's size before parsing, the parser's
 * token limit while parsing, and depth, aliases and cost before validation (a refused document is
 * never validated, let alone executed).
 */
function limitsPlugin(limits: QueryLimits): Plugin {
  const refusals = new WeakMap<DocumentNode, GraphQLError[]>();
  const parseWithLimit = (source: string | Source, options?: ParseOptions) => {
    try {
      return parse(source, { ...options, maxTokens: limits.maxTokens });
    } catch (error) {
      if (!(error instanceof GraphQLError) || !/more th\w+ \d+ tokens/.test(error.message)) {
        throw error;
      }
      throw limitError(
        "QUERY_TOO_LARGE",
        `the document has more than ${limits.maxTokens} tokens; parsing stopped there`,
      );
    }
  };
  return {
    onParams({ params, setResult }) {
      const refusal = typeof params.query === "string"
        ? documentSizeError(params.query, limits)
        : null;
      if (refusal !== null) setResult({ errors: [refusal] });
    },
    onParse({ setParseFn }) {
      setParseFn(parseWithLimit);
    },
    onValidate({ params, setResult }) {
      let errors = refusals.get(params.documentAST);
      if (errors === undefined) {
        errors = queryLimitErrors(params.schema, params.documentAST, limits);
        refusals.set(params.documentAST, errors);
      }
      if (errors.length > 0) setResult(errors);
    },
    onExecutionResult({ result }) {
      if (result && !Array.isArray(result) && !isAsyncIterable(result)) noDataIsNotSuccess(result);
    },
  };
}

/**
 * A result without `data` (a document refused before execution) gets its error's 4xx also under
 * `application/json`, for which yoga would follow the legacy rule and answer 200.
 */
function noDataIsNotSuccess(result: ExecutionResult): void {
  if ("data" in result || !result.errors) return;
  for (const error of result.errors) {
    const http = error.extensions?.http as { spec?: boolean } | undefined;
    if (http !== undefined) http.spec = false;
  }
}

/**
 * Refuses introspection to apps at execution, not validation: yoga caches validation results by
 * document, and a cached owner result must not let an app through.
 */
function ownerIntrospectionPlugin(): Plugin<GraphqlContext> {
  const refusal = {
    errors: [apiError("FORBIDDEN", "introspection is only for the gateway's owner")],
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      if (args.contextValue.access.kind !== "owner" && introspects(args.document)) {
        setResultAndStopExecution(refusal);
      }
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      if (args.contextValue.access.kind !== "owner" && introspects(args.document)) {
        setResultAndStopExecution(refusal);
      }
    },
  };
}

function introspects(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    [Kind.FIELD](node) {
      if (node.name.value === "__schema" || node.name.value === "__type") found = true;
    },
  });
  return found;
}
