/**
 * The batch-insert engine of the ingest path, independent of any one table's columns.
 *
 * A `run` call costs about 1 µs whatever it binds, more than inserting one ring row, so rows
 * written by the thousand go in multi-row statements (`MultiRowInsert`). Ring tables keyed
 * (meter_key, ts_ms) append in-order rows that way and send late or repeated rows alone through
 * INSERT OR IGNORE, whose change count tells whether a row was new (`RingAppender`); that is how
 * duplicates are kept out of rollups and interval energy. A ring row's meter key is bound once per
 * statement (`?1` in every row), not once per row: binding a string copies it.
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
  readonly #keyed: boolean;
  /**
   * Rows per statement → its statement, taken from the cache once per writer: building the SQL
   * text of 64 rows again for every chunk would cost more than the chunk's insert.
   */
  readonly #bySize = new Map<number, StatementSync>();

  /**
   * `head` is `INSERT ... INTO table (columns)`; `tail` (e.g. an ON CONFLICT clause) follows.
   * `keyed`: every row has the same first column, bound once per statement (see `runKeyed`).
   */
  constructor(db: DatabaseSync, head: string, columns: number, tail = "", keyed = false) {
    this.#db = db;
    this.#head = head;
    this.#columns = columns;
    this.#tail = tail;
    this.#keyed = keyed;
  }

  /** Inserts `values`, row after row; gives the number of rows changed. */
  run(values: SQLInputValue[]): number {
    return this.#run(null, values);
  }

  /**
   * Inserts rows whose first column is `key` (a `keyed` insert); `values` are the other columns,
   * row after row. Gives the number of rows changed.
   */
  runKeyed(key: SQLInputValue, values: SQLInputValue[]): number {
    return this.#run(key, values);
  }

  #run(key: SQLInputValue | null, values: SQLInputValue[]): number {
    const columns = this.#keyed ? this.#columns - 1 : this.#columns;
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
      const statement = this.#statement(size);
      const result = this.#keyed ? statement.run(key, ...chunk) : statement.run(...chunk);
      changes += Number(result.changes);
      done += size;
    }
    return changes;
  }

  #statement(rows: number): StatementSync {
    let found = this.#bySize.get(rows);
    if (found === undefined) {
      // `?1` then `?`: the unnumbered ones take the numbers after it, row after row.
      const marks = new Array(this.#columns).fill("?");
      if (this.#keyed) marks[0] = "?1";
      const row = `(${marks.join(", ")})`;
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
    this.many = new MultiRowInsert(
      db,
      `INSERT OR IGNORE INTO ${table} (${names})`,
      this.columns,
      "",
      true,
    );
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

/** One meter's rows of one flush in a `RingAppender`. */
interface MeterRows {
  /** Its newest meter time in the table, counting this flush's rows. */
  newestMs: number;
  /** Queued rows' values after the meter key, row after row. */
  values: SQLInputValue[];
}

/**
 * One table's rows of one flush. A row later than every row its meter has in the table cannot be
 * a duplicate, so it is queued and written with the others in multi-row statements (the common
 * case: meters send in time order). Any other row (late, or a repeat) first writes the queue, so
 * that order decides which copy of a key wins, then goes alone through INSERT OR IGNORE, whose
 * change count tells whether it was new.
 *
 * The caller asks `queueFor` and then pushes the row's values onto the queue itself, so a row
 * costs no array of its own.
 */
export class RingAppender {
  readonly #table: RingTable;
  readonly #meters = new Map<string, MeterRows>();

  constructor(table: RingTable) {
    this.#table = table;
  }

  /**
   * The queue a row of `meterKey` at `tsMs` goes on when it is later than all the meter's rows
   * (the caller pushes the row's values after the meter key onto it; it now counts as the
   * newest), or null when it must go alone through `insertOne`.
   */
  queueFor(meterKey: string, tsMs: number): SQLInputValue[] | null {
    let meter = this.#meters.get(meterKey);
    if (meter === undefined) {
      // Read in this flush's transaction, so no other connection can add rows behind it.
      meter = { newestMs: this.#table.newestMs(meterKey) ?? -Infinity, values: [] };
      this.#meters.set(meterKey, meter);
    }
    if (tsMs <= meter.newestMs) return null;
    meter.newestMs = tsMs;
    return meter.values;
  }

  /** Inserts one row alone after the queue; true when it was new. */
  insertOne(...values: SQLInputValue[]): boolean {
    this.write();
    return this.#table.insertOne(values);
  }

  /** Writes the queued rows. */
  write(): void {
    for (const [meterKey, meter] of this.#meters) {
      const values = meter.values;
      if (values.length === 0) continue;
      meter.values = [];
      const rows = values.length / (this.#table.columns - 1);
      const inserted = this.#table.many.runKeyed(meterKey, values);
      // Cannot happen while the flush holds the write lock; if it did, these rows would already
      // be counted as stored (rollups, intervals, onCommit), so fail and roll back the flush.
      if (inserted !== rows) throw new Error(`ring insert stored ${inserted} of ${rows} new rows`);
    }
  }
}
