/**
 * The `/graphql` fast path: a repeated query answered without yoga's request pipeline (web
 * streams, envelop, parser and validation caches, accept negotiation), which costs more than
 * running a small query itself.
 *
 * It takes only requests it is sure about, after `admitRequest` admitted the caller exactly as for
 * yoga: `POST` with `Content-Type: application/json` or `GET` with the parameters in the URL; an
 * `Accept` of `application/json`, `application/graphql-response+json`, `*\/*` or none (yoga answers
 * these with the content types used here); no `Origin` (yoga would add CORS headers); a body (or
 * URL) of `query`, `variables` and `operationName` only. The document must be prepared
 * (`prepared_documents.ts`: a query seen before, within the limits, valid, not introspection), the
 * caller's grant must cover its `@grantedData` fields (the same check as `granted_data.ts`), and
 * the compiled run must give a result without any error. Role directives need nothing here:
 * `roles.ts` wraps the schema's resolvers, which the compiled query calls.
 *
 * Everything else goes to yoga with the same request (rebuilt when its body was read), so every
 * error, refusal and status is yoga's own. Running a query a second time is safe: queries only
 * read.
 *
 * @module
 */

import type { GraphQLSchema } from "graphql";
import { acceptsGzip, compressResponse, MIN_COMPRESS_BYTES } from "../http/compress.ts";
import { storeVersion } from "../store/store_version.ts";
import { readerKey } from "./access.ts";
import type { GraphqlContext } from "./context.ts";
import { grantedDataRefusal } from "./granted_data.ts";
import type { QueryLimits } from "./limits.ts";
import {
  PreparedDocuments,
  type PreparedDocumentsStats,
  type PreparedQuery,
} from "./prepared_documents.ts";
import {
  type CachedResult,
  ResultCache,
  type ResultCacheOptions,
  type ResultCacheStats,
  watchedContext,
} from "./result_cache.ts";

export interface FastPathOptions {
  /** The schema yoga executes. */
  schema: GraphQLSchema;
  /** The limits yoga enforces. */
  limits: QueryLimits;
  /** Bounds of the prepared documents (see `PreparedDocumentsOptions`). */
  maxEntries?: number;
  maxQueryChars?: number;
  /** Bounds of the kept answers (see `ResultCacheOptions`). */
  results?: ResultCacheOptions;
}

export interface FastPathStats extends PreparedDocumentsStats {
  /** Requests answered here. */
  served: number;
  /** Answers kept for callers asking the same again (`result_cache.ts`). */
  results: ResultCacheStats;
}

export interface FastPath {
  /**
   * The answer (compressed as `compressResponse` would), or the request for yoga to answer (the
   * same one, rebuilt if its body was read).
   */
  answer(request: Request, context: GraphqlContext): Promise<Response | Request>;
  stats(): FastPathStats;
}

/** Request `Content-Type`s yoga reads as a JSON body. */
const JSON_BODY = new Set(["application/json", "application/json; charset=utf-8"]);

/** `Accept` values whose answer is known: the content type yoga picks for each. */
const ANSWER_TYPE = new Map<string | null, string>([
  [null, "application/json; charset=utf-8"],
  ["*/*", "application/json; charset=utf-8"],
  ["application/json", "application/json; charset=utf-8"],
  ["application/graphql-response+json", "application/graphql-response+json; charset=utf-8"],
]);

const GRAPHQL_NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;

/** What the fast path reads from a body; anything else in it is yoga's to answer. */
interface Params {
  query: string;
  variables: Record<string, unknown> | null;
  operationName: string | null;
}

export function fastPath(options: FastPathOptions): FastPath {
  const documents = new PreparedDocuments(options);
  const refusal = grantedDataRefusal(options.schema);
  const results = new ResultCache(options.results);
  const documentIds = new DocumentIds();
  const encoder = new TextEncoder();
  let served = 0;

  const answer = async (request: Request, context: GraphqlContext) => {
    const headers = request.headers;
    const type = ANSWER_TYPE.get(headers.get("accept"));
    if (type === undefined || headers.has("origin")) return request;
    let params: Params | null;
    let forYoga = () => request;
    if (request.method === "GET") {
      params = searchParamsOf(request.url);
    } else if (
      request.method === "POST" && JSON_BODY.has(headers.get("content-type")?.toLowerCase() ?? "")
    ) {
      const text = await request.text();
      forYoga = () => new Request(request.url, { method: "POST", headers, body: text });
      params = bodyParamsOf(text);
    } else {
      return request;
    }
    if (params === null) return forYoga();
    const prepared = documents.lookup(params.query, params.operationName);
    if (prepared === null) return forYoga();
    if (refusal(context.access, prepared.document, prepared.operationName) !== null) {
      return forYoga();
    }
    const key = `${documentIds.of(prepared)}\n${readerKey(context.access)}\n${
      params.variables === null ? "" : JSON.stringify(params.variables)
    }`;
    const version = storeVersion(context.services.db);
    const kept = results.get(key, version);
    if (kept !== null) {
      served++;
      return await keptResponse(
        request,
        type,
        kept,
        (gzipped) => results.addGzipped(key, kept, gzipped),
      );
    }
    const watched = watchedContext(context);
    const run = prepared.compiled.query(undefined, watched.context, params.variables ?? {});
    const result = run instanceof Promise ? await run : run;
    if (result.errors?.length || result.extensions !== undefined) return forYoga();
    served++;
    const body = encoder.encode(prepared.compiled.stringify(result));
    // A run that waited may have read the store at a later version than `version`.
    if (!(run instanceof Promise) && !watched.readGatewayState()) results.set(key, version, body);
    const response = new Response(body, { status: 200, headers: { "Content-Type": type } });
    // What `compressResponse` leaves as it is, after reading it again from a stream.
    return body.byteLength < MIN_COMPRESS_BYTES
      ? response
      : await compressResponse(request, response);
  };

  return {
    answer,
    stats: () => ({ ...documents.stats(), served, results: results.stats() }),
  };
}

/**
 * A kept answer with the headers a fresh one gets (`compressResponse`'s, for a body of known
 * length), gzipped once per kept answer.
 */
async function keptResponse(
  request: Request,
  type: string,
  kept: CachedResult,
  keepGzipped: (gzipped: Uint8Array<ArrayBuffer>) => void,
): Promise<Response> {
  if (kept.body.byteLength < MIN_COMPRESS_BYTES) {
    return new Response(kept.body, { status: 200, headers: { "Content-Type": type } });
  }
  if (!acceptsGzip(request.headers.get("accept-encoding"))) {
    return new Response(kept.body, {
      status: 200,
      headers: { "Content-Type": type, "Vary": "Accept-Encoding" },
    });
  }
  let gzipped = kept.gzipped;
  if (gzipped === null) {
    gzipped = await new Response(
      new Blob([kept.body]).stream().pipeThrough(
        new CompressionStream("gzip"),
      ),
    ).bytes();
    keepGzipped(gzipped);
  }
  return new Response(gzipped, {
    status: 200,
    headers: { "Content-Type": type, "Vary": "Accept-Encoding", "Content-Encoding": "gzip" },
  });
}

/** A number for each prepared document, for short cache keys. */
class DocumentIds {
  readonly #ids = new WeakMap<PreparedQuery, number>();
  #next = 0;

  of(prepared: PreparedQuery): number {
    let id = this.#ids.get(prepared);
    if (id === undefined) this.#ids.set(prepared, id = this.#next++);
    return id;
  }
}

/** The body's parameters when it holds nothing the fast path does not understand, else null. */
function bodyParamsOf(text: string): Params | null {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) return null;
  const { query, variables = null, operationName = null, ...rest } = body as Record<
    string,
    unknown
  >;
  return Object.keys(rest).length > 0 ? null : checkedParams(query, variables, operationName);
}

const SEARCH_PARAMS = new Set(["query", "variables", "operationName"]);

/** A GET request's parameters when its URL holds nothing else, each once, else null. */
function searchParamsOf(url: string): Params | null {
  const at = url.indexOf("?");
  if (at < 0) return null;
  const search = new URLSearchParams(url.slice(at + 1));
  const names = [...search.keys()];
  if (names.some((name) => !SEARCH_PARAMS.has(name)) || new Set(names).size !== names.length) {
    return null;
  }
  const variablesText = search.get("variables");
  let variables: unknown = null;
  if (variablesText !== null) {
    try {
      variables = JSON.parse(variablesText);
    } catch {
      return null;
    }
  }
  return checkedParams(search.get("query"), variables, search.get("operationName"));
}

/** The parameters when each has a type the fast path takes, else null. */
function checkedParams(query: unknown, variables: unknown, operationName: unknown): Params | null {
  if (typeof query !== "string") return null;
  if (variables !== null && (typeof variables !== "object" || Array.isArray(variables))) {
    return null;
  }
  if (
    operationName !== null &&
    (typeof operationName !== "string" || !GRAPHQL_NAME.test(operationName))
  ) {
    return null;
  }
  return { query, variables: variables as Record<string, unknown> | null, operationName };
}
