/**
 * Opens the gateway's SQLite cache: crash-safe settings, then the migrations.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { applyMigrations } from "./migrations.ts";

/** How long a writer waits for another connection's lock before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;
/** WAL file size kept after a checkpoint; without it the WAL never shrinks after a burst. */
const JOURNAL_SIZE_LIMIT_BYTES = 16 * 1024 * 1024;

/**
 * Opens (creating if needed) and migrates the database at `path` (`":memory:"` allowed).
 *
 * WAL with `synchronous=NORMAL`: a commit survives a process crash (`kill -9`); a power cut may
 * lose the last commits but never corrupts the file.
 */
export function openDatabase(path: string): DatabaseSync {
  const db = new DatabaseSync(path);
  try {
    db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS};
      PRAGMA foreign_keys = ON;
      PRAGMA journal_size_limit = ${JOURNAL_SIZE_LIMIT_BYTES};
    `);
    applyMigrations(db);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}
