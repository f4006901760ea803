/**
 * `openseg backup --db FILE --to FILE [--force]`: a consistent copy of a gateway's database, taken
 * while the gateway runs.
 *
 * SQLite's online backup copies every page in one step (`rate: -1`), that is inside one read
 * transaction: in WAL mode a snapshot of the last commit before it started, while the gateway
 * keeps writing (a step-by-step backup would start over on every commit by the gateway, and at
 * meter speed might never finish; `VACUUM INTO` is not available, Deno's SQLite forbids the
 * ATTACH it uses). The copy is written next to the target under a temporary name, checked
 * with `PRAGMA integrity_check`, and only then moved into place, so a failed or interrupted
 * backup never leaves a half-written or corrupt target. An existing target is kept unless
 * `--force` is given.
 *
 * Restoring is copying the backup back over the database while the gateway is stopped.
 *
 * @module
 */

import { backup, DatabaseSync } from "node:sqlite";
import { basename, dirname, join } from "node:path";
import { formatHelp, parseCommand } from "../config/options.ts";
import { databaseNeed, directoryNeed, type PermissionNeed } from "./permissions.ts";
import { UsageError } from "../config/usage_error.ts";
import { all, get } from "../store/statements.ts";

const backupOptions = {
  db: {
    flag: "db",
    type: "string",
    default: "openseg.db",
    env: "OPENSEG_DB",
    description: "the gateway's SQLite database (it may be in use)",
  },
  to: { flag: "to", type: "string", description: "the backup file to write" },
  force: { flag: "force", type: "boolean", description: "replace the backup file if it exists" },
} as const;

/** `sqlite3_backup_step(-1)`: copy every page in one step. */
const ALL_PAGES = -1;
/** How long the copy waits for a writer's lock (the gateway commits every few seconds). */
const BUSY_TIMEOUT_MS = 10_000;

export interface BackupOptions {
  /** Replace an existing target instead of refusing. */
  force: boolean;
}

export interface BackupResult {
  bytes: number;
  schemaVersion: number;
}

/** A backup that cannot be made: the message is the one line to print. */
export class BackupError extends Error {
  override name = "BackupError";
}

/** Copies the database at `source` to `target` consistently, verified; see the module doc. */
export async function backupDatabase(
  source: string,
  target: string,
  options: BackupOptions,
): Promise<BackupResult> {
  if (!options.force && exists(target)) {
    throw new BackupError(`${target} exists; give --force to replace it`);
  }
  if (!exists(source)) throw new BackupError(`no database at ${source}`);
  const partial = join(dirname(target), `.${basename(target)}.partial-${crypto.randomUUID()}`);
  try {
    await copyInto(source, partial);
    const result = verify(partial);
    if (options.force) {
      Deno.renameSync(partial, target);
    } else {
      // A hard link fails if the target appeared meanwhile: nothing is ever overwritten.
      try {
        Deno.linkSync(partial, target);
      } catch (error) {
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
        throw new BackupError(`${target} appeared during the backup; give --force to replace it`);
      }
    }
    return result;
  } finally {
    try {
      Deno.removeSync(partial);
    } catch {
      // Renamed into place, or never written.
    }
  }
}

async function copyInto(source: string, path: string) {
  try {
    // Not openDatabase: a backup must not migrate (or otherwise write to) the gateway's file.
    const db = new DatabaseSync(source);
    try {
      db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
      // All pages in one step: one read transaction, so one snapshot (see the module doc).
      await backup(db, path, { rate: ALL_PAGES });
    } finally {
      db.close();
    }
  } catch (error) {
    // Permission errors carry SQLite's error code too; main.ts names the grant for those.
    if (error instanceof Deno.errors.NotCapable) throw error;
    if (!String((error as { code?: string }).code).startsWith("ERR_SQLITE")) throw error;
    throw new BackupError(`cannot copy ${source}: ${(error as Error).message}`);
  }
}

function verify(path: string): BackupResult {
  const copy = new DatabaseSync(path);
  try {
    // The copy has the gateway's WAL mode; a backup is one self-contained file (the gateway
    // switches back to WAL when it opens a restored copy).
    copy.exec("PRAGMA journal_mode = DELETE");
    const checks = all<{ integrity_check: string }>(copy, "PRAGMA integrity_check");
    if (checks.length !== 1 || checks[0].integrity_check !== "ok") {
      const problems = checks.map((row) => row.integrity_check).join("; ");
      throw new BackupError(`the copy failed its integrity check (${problems}); nothing written`);
    }
    const { user_version: schemaVersion } = get<{ user_version: number }>(
      copy,
      "PRAGMA user_version",
    )!;
    return { bytes: Deno.statSync(path).size, schemaVersion };
  } finally {
    copy.close();
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** What `openseg backup ARGS` will need: the database's directory and the target's. */
export function backupPermissionNeeds(
  args: string[],
  env: Record<string, string | undefined>,
): PermissionNeed[] {
  const { values, help } = parseCommand(backupOptions, args, { env });
  if (help) return [];
  const needs = [databaseNeed(backupOptions.db, values.db)];
  if (values.to !== undefined) {
    needs.push(directoryNeed(backupOptions.to, values.to, "the copy is written beside it first"));
  }
  return needs;
}

export async function runBackup(args: string[]): Promise<number> {
  const { values, help } = parseCommand(backupOptions, args, { env: Deno.env.toObject() });
  if (help) {
    console.log(formatHelp(
      "openseg backup --db FILE --to FILE [--force]",
      "Copy the database consistently, even while the gateway runs, and check the copy.\n" +
        "Restore: stop the gateway, copy the backup over the database, start it again.",
      backupOptions,
    ));
    return 0;
  }
  if (values.to === undefined) throw new UsageError("--to FILE is required");
  try {
    const result = await backupDatabase(values.db, values.to, { force: values.force });
    console.log(
      `openseg backup: ${values.db} → ${values.to} (${result.bytes} bytes, schema version ` +
        `${result.schemaVersion}, integrity ok)`,
    );
    return 0;
  } catch (error) {
    if (!(error instanceof BackupError)) throw error;
    console.error(`openseg backup: ${error.message}`);
    return 1;
  }
}
