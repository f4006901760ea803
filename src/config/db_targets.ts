/**
 * The `--export-url` grammar: which database each URL names, how to reach and log into it, and
 * the name of its store-and-forward cursor. Parsing is all here, so a bad URL stops `serve` at
 * start-up with a message naming the option, never later in a log.
 *
 *   postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?table=NAME][&sslmode=MODE]
 *   influxdb://[USER:PASSWORD@]HOST[:PORT]/DATABASE[?rp=POLICY][&measurement=NAME]
 *   influxdb2://TOKEN@HOST[:PORT]/ORG/BUCKET[?measurement=NAME]
 *
 * `postgresql://` is the same as `postgres://`. `influxdb://` and `influxdb2://` speak plain HTTP
 * (default port 8086); `influxdb+https://`, `influxdb2+https://` use TLS and `+http` says plain
 * HTTP explicitly. Reserved characters in credentials are percent-encoded as in any URL.
 *
 * The cursor name is the destination without credentials or transport: a changed password keeps
 * the cursor, a different database or table starts a new one (which re-sends what the ring holds,
 * harmlessly, since writes are idempotent).
 *
 * @module
 */

import { UsageError } from "./usage_error.ts";

export interface PostgresTarget {
  kind: "postgres";
  /** What `pg` connects with, credentials included. */
  connectionString: string;
  /** The login name, for messages. */
  user: string;
  /** Table name, optionally schema-qualified (`energy.intervals`). */
  table: string;
  /** The URL as logged: the password replaced by `***`. */
  label: string;
  /** This destination's name in `export_cursors`. */
  cursorName: string;
}

export interface InfluxTarget {
  kind: "influxdb";
  /** 1: `/write?db=` (InfluxDB 1.x); 2: `/api/v2/write?org=&bucket=` (2.x, 3.x, 1.8+). */
  api: 1 | 2;
  /** The write endpoint with its query (`precision=ms` included). */
  writeUrl: string;
  /** The `Authorization` header value, or null for none. */
  authorization: string | null;
  measurement: string;
  /** The database (v1) or bucket (v2), for messages. */
  database: string;
  label: string;
  cursorName: string;
}

export type DatabaseTarget = PostgresTarget | InfluxTarget;

export const DEFAULT_TABLE = "openseg_intervals";
export const DEFAULT_MEASUREMENT = "openseg_interval";

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Parses every `--export-url`; the same destination twice is an error. */
export function databaseTargetsFrom(urls: string[]): DatabaseTarget[] {
  const targets = urls.map(parseExportUrl);
  const seen = new Set<string>();
  for (const target of targets) {
    if (seen.has(target.cursorName)) {
      throw new UsageError(`--export-url: ${target.label} is given twice`);
    }
    seen.add(target.cursorName);
  }
  return targets;
}

/** One `--export-url`; throws `UsageError` saying what a valid one looks like. */
export function parseExportUrl(text: string): DatabaseTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(
      `--export-url: '${redact(text)}' is not a URL (e.g. postgres://openseg@db.lan/energy)`,
    );
  }
  if (url.hash !== "") throw new UsageError(`--export-url: ${labelOf(url)} must not have a #`);
  if (url.hostname === "") throw new UsageError(`--export-url: ${labelOf(url)} has no host`);
  switch (url.protocol) {
    case "postgres:":
    case "postgresql:":
      return postgresTarget(url);
    case "influxdb:":
    case "influxdb+http:":
    case "influxdb+https:":
      return influxTarget(url, 1);
    case "influxdb2:":
    case "influxdb2+http:":
    case "influxdb2+https:":
      return influxTarget(url, 2);
    default:
      throw new UsageError(
        `--export-url: ${labelOf(url)} must start with postgres://, influxdb:// or ` +
          "influxdb2:// (see docs/database_export.md)",
      );
  }
}

function postgresTarget(url: URL): PostgresTarget {
  const label = labelOf(url);
  const database = decodeURIComponent(url.pathname.replace(/^\//, ""));
  if (database === "" || database.includes("/")) {
    throw new UsageError(`--export-url: ${label} must name one database: postgres://…/DATABASE`);
  }
  if (url.username === "") {
    throw new UsageError(`--export-url: ${label} needs a login: postgres://USER:PASSWORD@…`);
  }
  const params = queryParams(url, ["table", "sslmode"]);
  const table = params.get("table") ?? DEFAULT_TABLE;
  if (!table.split(".").every((part) => IDENTIFIER.test(part)) || table.split(".").length > 2) {
    throw new UsageError(
      `--export-url: table '${table}' must be NAME or SCHEMA.NAME of letters, digits and '_'`,
    );
  }
  const sslmode = params.get("sslmode");
  if (sslmode !== null && !["disable", "require", "verify-ca", "verify-full"].includes(sslmode)) {
    throw new UsageError(
      `--export-url: sslmode '${sslmode}' is not disable, require, verify-ca or verify-full`,
    );
  }
  const port = url.port === "" ? "5432" : url.port;
  const connection = new URL(`postgres://${url.host}`);
  connection.username = url.username;
  connection.password = url.password;
  connection.port = port;
  connection.pathname = `/${encodeURIComponent(database)}`;
  if (sslmode !== null) connection.searchParams.set("sslmode", sslmode);
  return {
    kind: "postgres",
    connectionString: connection.href,
    user: decodeURIComponent(url.username),
    table,
    label,
    cursorName: `postgres:${url.hostname}:${port}/${database}/${table}`,
  };
}

function influxTarget(url: URL, api: 1 | 2): InfluxTarget {
  const label = labelOf(url);
  const transport = url.protocol.endsWith("+https:") ? "https" : "http";
  const port = url.port === "" ? "8086" : url.port;
  // `hostname` keeps the brackets of an IPv6 address.
  const base = `${transport}://${url.hostname}:${port}`;
  const path = url.pathname.replace(/^\//, "").split("/").map(decodeURIComponent);
  const params = queryParams(url, api === 1 ? ["rp", "measurement"] : ["measurement"]);
  const measurement = params.get("measurement") ?? DEFAULT_MEASUREMENT;
  if (!IDENTIFIER.test(measurement)) {
    throw new UsageError(
      `--export-url: measurement '${measurement}' must be letters, digits and '_'`,
    );
  }
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  if (api === 1) {
    if (path.length !== 1 || path[0] === "") {
      throw new UsageError(`--export-url: ${label} must name one database: influxdb://…/DATABASE`);
    }
    if ((user === "") !== (password === "")) {
      throw new UsageError(`--export-url: ${label}: give both USER:PASSWORD@ or neither`);
    }
    const query = new URLSearchParams({ db: path[0], precision: "ms" });
    const rp = params.get("rp");
    if (rp !== null) query.set("rp", rp);
    return {
      kind: "influxdb",
      api,
      writeUrl: `${base}/write?${query}`,
      authorization: user === "" ? null : `Basic ${btoa(`${user}:${password}`)}`,
      measurement,
      database: path[0],
      label,
      cursorName: `influxdb:${url.hostname}:${port}/${path[0]}/${rp ?? ""}/${measurement}`,
    };
  }
  if (path.length !== 2 || path.some((part) => part === "")) {
    throw new UsageError(`--export-url: ${label} must be influxdb2://TOKEN@HOST/ORG/BUCKET`);
  }
  if (user === "" && password === "") {
    throw new UsageError(`--export-url: ${label} needs a token: influxdb2://TOKEN@HOST/ORG/BUCKET`);
  }
  // The user info as written is the token; USER:PASSWORD is what InfluxDB 1.8's v2 API takes.
  const token = password === "" ? user : `${user}:${password}`;
  const [org, bucket] = path;
  return {
    kind: "influxdb",
    api,
    writeUrl: `${base}/api/v2/write?${new URLSearchParams({ org, bucket, precision: "ms" })}`,
    authorization: `Token ${token}`,
    measurement,
    database: bucket,
    label,
    cursorName: `influxdb2:${url.hostname}:${port}/${org}/${bucket}/${measurement}`,
  };
}

function queryParams(url: URL, allowed: string[]): URLSearchParams {
  for (const key of url.searchParams.keys()) {
    if (!allowed.includes(key)) {
      throw new UsageError(
        `--export-url: ${labelOf(url)}: unknown parameter '${key}' (allowed: ${
          allowed.join(", ")
        })`,
      );
    }
  }
  return url.searchParams;
}

/** The URL as shown in messages: secrets (password, token) replaced by `***`. */
function labelOf(url: URL): string {
  const shown = new URL(url.href);
  if (shown.protocol.startsWith("influxdb2") && shown.password === "") {
    if (shown.username !== "") shown.username = "***";
  } else if (shown.password !== "") {
    shown.password = "***";
  }
  return shown.href;
}

/** Best effort for text that does not even parse: drop anything between `//` and `@`. */
function redact(text: string): string {
  return text.replace(/\/\/[^/@]*@/, "//***@");
}
