/**
 * Shared pieces of the database export tests: a logger that keeps its lines, a sink wrapper that
 * counts write attempts, and the store's own list of complete intervals per meter (what every
 * destination must end up holding).
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import type { DatabaseSink } from "../../src/export/database_sink.ts";
import { pendingIntervals } from "../../src/store/export_cursor.ts";
import type { IntervalReading } from "../../src/store/queries.ts";

export interface KeptLog {
  info: (line: string) => void;
  warn: (line: string) => void;
  warnings: string[];
  infos: string[];
}

export function keptLog(): KeptLog {
  const warnings: string[] = [];
  const infos: string[] = [];
  return {
    warnings,
    infos,
    info: (line) => infos.push(line),
    warn: (line) => warnings.push(line),
  };
}

/** `sink` with a count of write attempts. */
export function countingSink(sink: DatabaseSink): DatabaseSink & { attempts: () => number } {
  let attempts = 0;
  return {
    write(rows) {
      attempts++;
      return sink.write(rows);
    },
    close: () => sink.close(),
    attempts: () => attempts,
  };
}

/** Every complete interval the store holds for `meterKey`, oldest first. */
export function storedIntervals(db: DatabaseSync, meterKey: string): IntervalReading[] {
  // A cursor name nothing uses: the whole ring counts as pending.
  return pendingIntervals(db, { sink: "test:everything", meterKey, limit: 1_000_000 });
}
