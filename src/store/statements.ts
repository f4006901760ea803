/**
 * The one statement cache of the store and the authorization server: every SQL text is prepared
 * once per database and the compiled statement reused.
 *
 * Why: `db.prepare` costs 13–17 µs against ~2 µs for running a prepared statement, and each
 * statement holds ~5 KB of native memory V8 does not see, so preparing per request let the
 * process grow to hundreds of MB under API load before a major GC released them.
 *
 * Rules for callers, since a cached statement is shared by every caller of the same SQL:
 * - never change a statement's mode (`setReadBigInts`, `setAllowBareNamedParameters`, ...) on a
 *   statement from here; rows as arrays have their own cache (`arrayStatement`);
 * - never `.iterate()` one while code in the loop body may run the same SQL (the iterator would be
 *   reset under it); `.all()`, `.get()` and `.run()` finish before returning and are safe.
 *
 * The cache is keyed by the database object in a WeakMap, so a closed and dropped database takes
 * its statements with it. A bound per database guards against SQL built from data.
 *
 * @module
 */

import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";

/** Statements kept per database and mode; the oldest is dropped beyond it. */
const STATEMENTS_MAX = 512;

/** Parameters of one run: positional values, or named values first then positional ones. */
export type StatementParams =
  | SQLInputValue[]
  | [Record<string, SQLInputValue>, ...SQLInputValue[]];

interface Caches {
  /** Statements returning rows as objects (the default). */
  objects: Map<string, StatementSync>;
  /** Statements switched to `setReturnArrays(true)`. */
  arrays: Map<string, StatementSync>;
}

const caches = new WeakMap<DatabaseSync, Caches>();

function cachesOf(db: DatabaseSync): Caches {
  let found = caches.get(db);
  if (found === undefined) {
    found = { objects: new Map(), arrays: new Map() };
    caches.set(db, found);
  }
  return found;
}

function cached(
  db: DatabaseSync,
  cache: Map<string, StatementSync>,
  sql: string,
  configure: (statement: StatementSync) => void,
): StatementSync {
  let found = cache.get(sql);
  if (found === undefined) {
    found = db.prepare(sql);
    configure(found);
    if (cache.size >= STATEMENTS_MAX) cache.delete(cache.keys().next().value!);
    cache.set(sql, found);
  }
  return found;
}

/** The statement for `sql` on `db`, prepared on first use; rows come as objects. */
export function statement(db: DatabaseSync, sql: string): StatementSync {
  return cached(db, cachesOf(db).objects, sql, () => {});
}

/** The statement for `sql` on `db` returning rows as arrays (no per-row object to build). */
export function arrayStatement(db: DatabaseSync, sql: string): StatementSync {
  return cached(db, cachesOf(db).arrays, sql, (prepared) => prepared.setReturnArrays(true));
}

/** Every row of `sql`, typed as `Row` (the caller's SQL decides the columns). */
export function all<Row>(db: DatabaseSync, sql: string, ...params: StatementParams): Row[] {
  return statement(db, sql).all(...params as SQLInputValue[]) as unknown as Row[];
}

/** The first row of `sql`, typed as `Row`, or undefined when there is none. */
export function get<Row>(
  db: DatabaseSync,
  sql: string,
  ...params: StatementParams
): Row | undefined {
  return statement(db, sql).get(...params as SQLInputValue[]) as Row | undefined;
}
