/**
 * A version of everything the database holds, as one connection sees it: its own changed rows
 * (`total_changes()`, every INSERT, UPDATE and DELETE it ran) and other connections' commits
 * (`data_version`, which moves when another connection or process commits). Two equal versions
 * mean no row changed in between, so whatever was computed from the store then is still right.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { get } from "./statements.ts";

/** The store's version now: equal strings, equal contents. */
export function storeVersion(db: DatabaseSync): string {
  // Two statements: `pragma_data_version` as a table in one SELECT costs twice as much.
  const changes = get<{ changes: number }>(db, "SELECT total_changes() AS changes")?.changes;
  const dataVersion = get<{ data_version: number }>(db, "PRAGMA data_version")?.data_version;
  return `${changes}:${dataVersion}`;
}
