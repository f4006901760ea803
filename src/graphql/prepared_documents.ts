/**
 * Prepared query documents for the `/graphql` fast path (`fast_path.ts`), by query text and
 * operation name: parsed, checked against the query limits (`limits.ts`: size, tokens, then depth,
 * aliases and cost, in the order `limits_plugin.ts` checks them for yoga), validated with
 * graphql-js's rules on the schema yoga runs, and compiled by graphql-jit. Only `query` operations
 * that do not introspect are prepared; every other text is remembered as "yoga answers it".
 *
 * A text is prepared the second time it is seen: a one-off (a script polling with literal
 * timestamps) costs one entry in a small set of texts seen once, never a compile, and never pushes
 * a prepared query out. Both maps are least-recently-used and bounded in entries and in the
 * characters of query text they hold.
 *
 * @module
 */

import type { CompiledQuery } from "graphql-jit";
import { type DocumentNode, type GraphQLSchema, validate } from "graphql";
import { introspects } from "./introspection.ts";
import { compiledQuery } from "./jit.ts";
import { documentSizeError, queryLimitErrors, type QueryLimits } from "./limits.ts";
import { limitedParser } from "./limits_plugin.ts";

/** A query yoga would run without an error before execution, compiled. */
export interface PreparedQuery {
  document: DocumentNode;
  operationName: string | null;
  compiled: CompiledQuery;
}

export interface PreparedDocumentsOptions {
  /** The schema yoga executes (role guards included: graphql-jit calls the same resolvers). */
  schema: GraphQLSchema;
  limits: QueryLimits;
  /** Most texts each map holds (default 256). */
  maxEntries?: number;
  /** Most characters of query text each map holds (default 1 Mi). */
  maxQueryChars?: number;
}

export interface PreparedDocumentsStats {
  /** Texts with a decision (prepared, or yoga's). */
  entries: number;
  /** Characters of query text those hold. */
  queryChars: number;
  /** Texts seen once, not yet decided. */
  seenOnce: number;
  seenOnceChars: number;
  /** Queries compiled so far. */
  compiles: number;
}

/** Prepared documents of one schema. */
export class PreparedDocuments {
  readonly #schema: GraphQLSchema;
  readonly #limits: QueryLimits;
  readonly #parse: ReturnType<typeof limitedParser>;
  /** null: not a query this path runs; yoga answers it. */
  readonly #decided: BoundedLru<PreparedQuery | null>;
  readonly #seenOnce: BoundedLru<true>;
  #compiles = 0;

  constructor(options: PreparedDocumentsOptions) {
    this.#schema = options.schema;
    this.#limits = options.limits;
    this.#parse = limitedParser(options.limits);
    const maxEntries = options.maxEntries ?? 256;
    const maxQueryChars = options.maxQueryChars ?? 1024 * 1024;
    this.#decided = new BoundedLru(maxEntries, maxQueryChars);
    this.#seenOnce = new BoundedLru(maxEntries, maxQueryChars);
  }

  /**
   * The prepared query for `query` and `operationName` (a GraphQL name or null), or null when
   * yoga answers it: seen for the first time, or not a valid, limit-abiding, non-introspection
   * query.
   */
  lookup(query: string, operationName: string | null): PreparedQuery | null {
    const key = operationName === null ? `\n${query}` : `${operationName}\n${query}`;
    const known = this.#decided.get(key);
    if (known !== undefined) return known;
    if (this.#seenOnce.get(key) === undefined) {
      this.#seenOnce.set(key, true, query.length);
      return null;
    }
    this.#seenOnce.delete(key);
    const prepared = this.#prepare(query, operationName);
    this.#decided.set(key, prepared, query.length);
    return prepared;
  }

  stats(): PreparedDocumentsStats {
    return {
      entries: this.#decided.size,
      queryChars: this.#decided.chars,
      seenOnce: this.#seenOnce.size,
      seenOnceChars: this.#seenOnce.chars,
      compiles: this.#compiles,
    };
  }

  #prepare(query: string, operationName: string | null): PreparedQuery | null {
    if (documentSizeError(query, this.#limits) !== null) return null;
    let document: DocumentNode;
    try {
      document = this.#parse(query);
    } catch {
      return null;
    }
    if (queryLimitErrors(this.#schema, document, this.#limits).length > 0) return null;
    if (validate(this.#schema, document).length > 0 || introspects(document)) return null;
    this.#compiles++;
    const compiled = compiledQuery(this.#schema, document, operationName);
    return compiled === null ? null : { document, operationName, compiled };
  }
}

/** A least-recently-used map bounded in entries and in the characters of its keys' texts. */
class BoundedLru<V> {
  readonly #entries = new Map<string, { value: V; chars: number }>();
  readonly #maxEntries: number;
  readonly #maxChars: number;
  #chars = 0;

  constructor(maxEntries: number, maxChars: number) {
    this.#maxEntries = maxEntries;
    this.#maxChars = maxChars;
  }

  get size(): number {
    return this.#entries.size;
  }

  get chars(): number {
    return this.#chars;
  }

  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    // Re-inserted: a Map iterates in insertion order, so the first key is the least recent.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.value;
  }

  set(key: string, value: V, chars: number): void {
    this.delete(key);
    if (chars > this.#maxChars) return;
    this.#entries.set(key, { value, chars });
    this.#chars += chars;
    for (const [oldest, entry] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries && this.#chars <= this.#maxChars) break;
      this.#entries.delete(oldest);
      this.#chars -= entry.chars;
    }
  }

  delete(key: string): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#entries.delete(key);
    this.#chars -= entry.chars;
  }
}
