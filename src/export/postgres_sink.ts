/**
 * Interval readings into a PostgreSQL table with `pg`, the driver the Node community uses.
 *
 * On each (re)connect the table is checked, or created when missing (and made a TimescaleDB
 * hypertable on `start_time` when the `timescaledb` extension is installed in that database).
 * A login that may not create it gets a clear error instead. One batch is one statement: rows go
 * as arrays through `unnest`, so the statement text is fixed and the server prepares it once, and
 * `ON CONFLICT … DO UPDATE` on the key (gateway, meter, start, duration) makes a re-sent interval
 * replace itself.
 *
 * @module
 */

import pg from "pg";
import {
  type DatabaseSink,
  type IntervalRow,
  permissionAdvice,
  SinkFailure,
} from "./database_sink.ts";
import type { PostgresTarget } from "../config/db_targets.ts";

/** The table's columns and their types as `format_type` names them. */
export const POSTGRES_COLUMNS = {
  gateway_id: "text",
  meter_id: "text",
  start_time: "timestamp with time zone",
  duration_s: "integer",
  delivered_wh: "double precision",
  received_wh: "double precision",
  quality: "text",
  sent_at: "timestamp with time zone",
} as const;

/** `energy.intervals` → `"energy"."intervals"`. */
export function quoteTable(table: string): string {
  return table.split(".").map((part) => `"${part}"`).join(".");
}

/** The table as openseg creates it (also in docs/database_export.md). */
export function createTableSql(table: string): string {
  return `CREATE TABLE ${quoteTable(table)} (
  gateway_id   text NOT NULL,
  meter_id     text NOT NULL,
  start_time   timestamptz NOT NULL,
  duration_s   integer NOT NULL,
  delivered_wh double precision NOT NULL,
  received_wh  double precision NOT NULL,
  quality      text NOT NULL,
  sent_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (gateway_id, meter_id, start_time, duration_s)
)`;
}

/**
 * The batch insert: seven arrays in, one row per element. With `upsert` a row whose key exists
 * replaces it; without, it is the plain insert the benchmark compares against.
 */
export function insertSql(table: string, options: { upsert: boolean }): string {
  const insert = `INSERT INTO ${quoteTable(table)}
  (gateway_id, meter_id, start_time, duration_s, delivered_wh, received_wh, quality)
SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::integer[],
  $5::double precision[], $6::double precision[], $7::text[])`;
  return options.upsert
    ? `${insert}
ON CONFLICT (gateway_id, meter_id, start_time, duration_s) DO UPDATE SET
  delivered_wh = excluded.delivered_wh, received_wh = excluded.received_wh,
  quality = excluded.quality, sent_at = now()`
    : insert;
}

/** The seven column arrays of `insertSql`. */
export function insertParams(rows: IntervalRow[]): unknown[][] {
  const columns: unknown[][] = [[], [], [], [], [], [], []];
  for (const { gatewayId, meterId, reading } of rows) {
    columns[0].push(gatewayId);
    columns[1].push(meterId);
    columns[2].push(new Date(reading.startMs).toISOString());
    columns[3].push(reading.durationS);
    columns[4].push(reading.deliveredWh);
    columns[5].push(reading.receivedWh);
    columns[6].push(reading.quality);
  }
  return columns;
}

export function postgresSink(target: PostgresTarget): DatabaseSink {
  const upsert = {
    name: `openseg-upsert-${target.table}`,
    text: insertSql(target.table, { upsert: true }),
  };
  let client: pg.Client | null = null;

  const disconnect = async () => {
    const open = client;
    client = null;
    await open?.end().catch(() => {});
  };

  const connect = async (): Promise<pg.Client> => {
    const fresh = new pg.Client({
      connectionString: target.connectionString,
      application_name: "openseg",
      connectionTimeoutMillis: 10_000,
      query_timeout: 60_000,
    });
    // A connection lost between writes must not crash the process; the next write reconnects.
    fresh.on("error", () => {
      if (client === fresh) client = null;
    });
    await fresh.connect();
    try {
      await ensureTable(fresh, target);
    } catch (error) {
      await fresh.end().catch(() => {});
      throw error;
    }
    return fresh;
  };

  return {
    async write(rows) {
      try {
        client ??= await connect();
        await client.query({ ...upsert, values: insertParams(rows) });
      } catch (error) {
        await disconnect();
        throw error instanceof SinkFailure ? error : describePostgresError(error, target);
      }
    },
    close: disconnect,
  };
}

interface ColumnRow {
  name: string;
  type: string;
  notNull: boolean;
  hasDefault: boolean;
}

/** Creates the table when missing, else checks its columns; throws a `SinkFailure`. */
async function ensureTable(client: pg.Client, target: PostgresTarget): Promise<void> {
  const table = quoteTable(target.table);
  const found = await client.query("SELECT to_regclass($1) IS NOT NULL AS present", [table]);
  if (!found.rows[0].present) {
    try {
      await client.query(createTableSql(target.table));
    } catch (error) {
      if ((error as { code?: string }).code === "42501") {
        throw new SinkFailure(
          "login",
          `table ${target.table} does not exist and login '${target.user}' may not create it: ` +
            "create it as docs/database_export.md shows, or grant CREATE on the schema",
        );
      }
      throw error;
    }
    const timescale = await client.query(
      "SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'",
    );
    if (timescale.rowCount) {
      await client.query(
        "SELECT create_hypertable($1::regclass, 'start_time', if_not_exists => true)",
        [
          table,
        ],
      );
    }
    return;
  }
  const columns = await client.query(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, attnotnull AS "notNull",
       atthasdef AS "hasDefault"
     FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`,
    [table],
  );
  const problems: string[] = [];
  const have = new Map(
    (columns.rows as ColumnRow[]).map((row) => [row.name, row] as const),
  );
  for (const [name, type] of Object.entries(POSTGRES_COLUMNS)) {
    const column = have.get(name);
    if (column === undefined) problems.push(`column ${name} is missing`);
    else if (column.type !== type) problems.push(`column ${name} is ${column.type}, not ${type}`);
  }
  for (const [name, column] of have) {
    if (!(name in POSTGRES_COLUMNS) && column.notNull && !column.hasDefault) {
      problems.push(`column ${name} is NOT NULL without a default`);
    }
  }
  if (problems.length > 0) {
    throw new SinkFailure(
      "schema",
      `table ${target.table} does not match what openseg writes: ${problems.join("; ")} ` +
        "(see docs/database_export.md)",
    );
  }
}

/** Error codes (SQLSTATE) and what they mean here. */
const LOGIN_CODES = new Set(["28P01", "28000", "42501"]);
const SCHEMA_CODES = new Set(["42P10", "42703", "42804", "23502", "42P01"]);
const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "57P01",
  "57P02",
  "57P03",
]);

/** A `SinkFailure` for what `pg` threw, in words an operator can act on. */
export function describePostgresError(error: unknown, target: PostgresTarget): SinkFailure {
  const code = (error as { code?: unknown })?.code;
  const message = error instanceof Error ? error.message : String(error);
  const where = `PostgreSQL at ${target.label}`;
  const permission = permissionAdvice(error, target.label);
  if (permission !== null) {
    return new SinkFailure("unreachable", `cannot reach ${where}: ${permission}`);
  }
  if (typeof code === "string" && LOGIN_CODES.has(code)) {
    return new SinkFailure("login", `${where} refused login '${target.user}': ${message}`);
  }
  if (code === "3D000") return new SinkFailure("missing", `${where}: ${message}`);
  if (typeof code === "string" && SCHEMA_CODES.has(code)) {
    return new SinkFailure(
      "schema",
      `table ${target.table} does not match what openseg writes: ${message} ` +
        "(see docs/database_export.md)",
    );
  }
  if (
    (typeof code === "string" && UNREACHABLE_CODES.has(code)) ||
    /terminated|timeout|closed|ended/i.test(message)
  ) {
    return new SinkFailure("unreachable", `cannot reach ${where}: ${message}`);
  }
  return new SinkFailure("rejected", `${where} rejected the readings: ${message}`);
}
