/**
 * The batch-insert engine of the ingest path, independent of any one table's columns.
 *
 * A `run` call costs about 1 µs whatever it binds, more than inserting one ring row, so rows
 * written by the thousand go in multi-row statements (`MultiRowInsert`). Ring tables keyed
 * (meter_key, ts_ms) append in-order rows that way and send late or repeated rows alone through
 * INSERT OR IGNORE, whose change count tells whether a row was new (`RingAppender`); that is how
 * duplicates are kept out of rollups and interval energy.
 *
 * @module
 */

import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import { get, statement } from "./statements.ts";

/**
 * Most rows per multi-row statement: the per-call cost is spread thin by about 50 rows (measured),
 * and 64 rows keep a statement far below SQLite's limit of 32 766 parameters.
 */
const MAX_ROWS_PER_STATEMENT = 64;

/**
 * One INSERT run over any number of rows: full statements of `MAX_ROWS_PER_STATEMENT` rows, then
 * the rest in power-of-two sizes, so at most seven statements per table are ever prepared.
 */
export class MultiRowInsert {
  readonly #db: DatabaseSync;
  readonly #head: string;
  readonly #columns: number;
  readonly #tail: string;
  /**
   * Rows per statement → its statement, taken from the cache once per writer: building the SQL
   * text of 64 rows again for every chunk would cost more than the chunk's insert.
   */
  readonly #bySize = new Map<number, StatementSync>();

  /** `head` is `INSERT ... INTO table (columns)`; `tail` (e.g. an ON CONFLICT clause) follows. */
  constructor(db: DatabaseSync, head: string, columns: number, tail = "") {
    this.#db = db;
    this.#head = head;
    this.#columns = columns;
    this.#tail = tail;
  }

  /** Inserts `values`, row after row; gives the number of rows changed. */
  run(values: SQLInputValue[]): number {
    const columns = this.#columns;
    const rows = values.length / columns;
    let changes = 0;
    let done = 0;
    let size = MAX_ROWS_PER_STATEMENT;
    while (done < rows) {
      if (rows - done < size) {
        size >>= 1;
        continue;
      }
      const from = done * columns;
      const chunk = values.slice(from, from + size * columns);
      changes += Number(this.#statement(size).run(...chunk).changes);
      done += size;
    }
    return changes;
  }

  #statement(rows: number): StatementSync {
    let found = this.#bySize.get(rows);
    if (found === undefined) {
      const row = `(${new Array(this.#columns).fill("?").join(", ")})`;
      found = statement(
        this.#db,
        `${this.#head} VALUES ${new Array(rows).fill(row).join(", ")} ${this.#tail}`,
      );
      this.#bySize.set(rows, found);
    }
    return found;
  }
}

/** The statements of one ring table keyed (meter_key, ts_ms). */
export class RingTable {
  /** Values per row. */
  readonly columns: number;
  readonly many: MultiRowInsert;
  readonly #db: DatabaseSync;
  readonly #oneSql: string;
  readonly #newestSql: string;

  /** `valueColumns` are the ones after (meter_key, ts_ms). */
  constructor(db: DatabaseSync, table: string, valueColumns: string[]) {
    this.columns = 2 + valueColumns.length;
    const names = ["meter_key", "ts_ms", ...valueColumns].join(", ");
    const marks = new Array(this.columns).fill("?").join(", ");
    this.#db = db;
    this.#oneSql = `INSERT OR IGNORE INTO ${table} (${names}) VALUES (${marks})`;
    this.#newestSql =
      `SELECT ts_ms AS tsMs FROM ${table} WHERE meter_key = ? ORDER BY ts_ms DESC LIMIT 1`;
    this.many = new MultiRowInsert(db, `INSERT OR IGNORE INTO ${table} (${names})`, this.columns);
  }

  /** Inserts one row unless its key is stored; true when it was new. */
  insertOne(values: SQLInputValue[]): boolean {
    return statement(this.#db, this.#oneSql).run(...values).changes > 0;
  }

  /** The meter's newest stored meter time, or undefined when it has no row. */
  newestMs(meterKey: string): number | undefined {
    return get<{ tsMs: number }>(this.#db, this.#newestSql, meterKey)?.tsMs;
  }
}

/**
 * One table's rows of one flush. A row later than every row its meter has in the table cannot be
 * a duplicate, so it is queued and written with the others in multi-row statements (the common
 * case: meters send in time order). Any other row (late, or a repeat) first writes the queue, so
 * that order decides which copy of a key wins, then goes alone through INSERT OR IGNORE, whose
 * change count tells whether it was new.
 *
 * The caller asks `appends` and then pushes the row's values onto `queued` itself, so a row costs
 * no array of its own.
 */
export class RingAppender {
  readonly #table: RingTable;
  /** Meter → its newest meter time in the table, counting this flush's rows. */
  readonly #newestMs = new Map<string, number>();
  #queued: SQLInputValue[] = [];

  constructor(table: RingTable) {
    this.#table = table;
  }

  /**
   * Whether a row of `meterKey` at `tsMs` is later than all the meter's rows; if so the caller
   * must queue it, since it now counts as the newest.
   */
  appends(meterKey: string, tsMs: number): boolean {
    let newestMs = this.#newestMs.get(meterKey);
    if (newestMs === undefined) {
      // Read in this flush's transaction, so no other connection can add rows behind it.
      newestMs = this.#table.newestMs(meterKey) ?? -Infinity;
    }
    if (tsMs <= newestMs) {
      this.#newestMs.set(meterKey, newestMs);
      return false;
    }
    this.#newestMs.set(meterKey, tsMs);
    return true;
  }

  get queued(): SQLInputValue[] {
    return this.#queued;
  }

  /** Inserts one row alone after the queue; true when it was new. */
  insertOne(...values: SQLInputValue[]): boolean {
    this.write();
    return this.#table.insertOne(values);
  }

  /** Writes the queued rows. */
  write(): void {
    const queued = this.#queued;
    if (queued.length === 0) return;
    this.#queued = [];
    const rows = queued.length / this.#table.columns;
    const inserted = this.#table.many.run(queued);
    // Cannot happen while the flush holds the write lock; if it did, these rows would already be
    // counted as stored (rollups, intervals, onCommit), so fail and roll back the flush instead.
    if (inserted !== rows) throw new Error(`ring insert stored ${inserted} of ${rows} new rows`);
  }
}
