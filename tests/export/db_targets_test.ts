/**
 * The `--export-url` grammar: what each accepted URL resolves to (connection, write endpoint,
 * login, cursor name, logged label without secrets), and a clear usage error for each malformed
 * one — through `openseg serve`'s option parsing, flag and environment alike.
 *
 * @module
 */

import assert from "node:assert/strict";
import { UsageError } from "../../src/config/usage_error.ts";
import { loadServeConfig } from "../../src/config.ts";
import { parseExportUrl } from "../../src/config/db_targets.ts";

Deno.test("postgres:// URLs: connection string, table, cursor name, label without password", () => {
  const target = parseExportUrl("postgres://open%40seg:p%2Fss@db.lan/energy?table=meters.readings");
  assert.deepEqual(target, {
    kind: "postgres",
    connectionString: "postgres://open%40seg:p%2Fss@db.lan:5432/energy",
    user: "open@seg",
    table: "meters.readings",
    label: "postgres://open%40seg:***@db.lan/energy?table=meters.readings",
    cursorName: "postgres:db.lan:5432/energy/meters.readings",
  });
  const plain = parseExportUrl("postgresql://openseg:x@127.0.0.1:6543/energy?sslmode=require");
  assert.equal(plain.kind, "postgres");
  assert.equal(
    plain.kind === "postgres" && plain.connectionString,
    "postgres://openseg:x@127.0.0.1:6543/energy?sslmode=require",
  );
  assert.equal(plain.kind === "postgres" && plain.table, "openseg_intervals");
});

Deno.test("influxdb:// and influxdb2:// URLs: write endpoint, authorization, cursor name", () => {
  assert.deepEqual(parseExportUrl("influxdb://127.0.0.1/energy"), {
    kind: "influxdb",
    api: 1,
    writeUrl: "http://127.0.0.1:8086/write?db=energy&precision=ms",
    authorization: null,
    measurement: "openseg_interval",
    database: "energy",
    label: "influxdb://127.0.0.1/energy",
    cursorName: "influxdb:127.0.0.1:8086/energy//openseg_interval",
  });
  const v1 = parseExportUrl(
    "influxdb+https://u:pw@influx.lan:8443/energy?rp=year&measurement=power",
  );
  assert.equal(
    v1.kind === "influxdb" && v1.writeUrl,
    "https://influx.lan:8443/write?db=energy&precision=ms&rp=year",
  );
  assert.equal(v1.kind === "influxdb" && v1.authorization, `Basic ${btoa("u:pw")}`);
  assert.equal(v1.label, "influxdb+https://u:***@influx.lan:8443/energy?rp=year&measurement=power");

  const v2 = parseExportUrl("influxdb2://tok%2Fen==@[::1]:8086/my%20org/bucket");
  assert.equal(
    v2.kind === "influxdb" && v2.writeUrl,
    "http://[::1]:8086/api/v2/write?org=my+org&bucket=bucket&precision=ms",
  );
  assert.equal(v2.kind === "influxdb" && v2.authorization, "Token tok/en==");
  assert.equal(v2.label, "influxdb2://***@[::1]:8086/my%20org/bucket");
  assert.equal(v2.cursorName, "influxdb2:[::1]:8086/my org/bucket/openseg_interval");
  // InfluxDB 1.8's v2 API takes USER:PASSWORD as the token.
  const compat = parseExportUrl("influxdb2+https://u:pw@influx.lan/org/energy");
  assert.equal(compat.kind === "influxdb" && compat.authorization, "Token u:pw");
  assert.equal(
    compat.kind === "influxdb" && compat.writeUrl.startsWith("https://influx.lan:8086/"),
    true,
  );
});

Deno.test("--export-url: malformed URLs are usage errors that say what is expected", () => {
  const cases: [string, RegExp][] = [
    ["not a url", /is not a URL \(e\.g\. postgres:/],
    ["mysql://u:p@h/db", /must start with postgres:\/\/, influxdb:\/\/ or influxdb2:\/\//],
    ["postgres://u:s3cret@h/", /^--export-url: postgres:\/\/u:\*\*\*@h\/ must name one database/],
    ["postgres://h/db", /needs a login/],
    ["postgres://u:p@h/db?table=drop;table", /table 'drop;table' must be NAME or SCHEMA\.NAME/],
    ["postgres://u:p@h/db?tabel=x", /unknown parameter 'tabel' \(allowed: table, sslmode\)/],
    ["postgres://u:p@h/db?sslmode=maybe", /sslmode 'maybe' is not/],
    ["influxdb://h/a/b", /must name one database: influxdb:\/\/…\/DATABASE/],
    ["influxdb://u@h/db", /give both USER:PASSWORD@ or neither/],
    ["influxdb2://h/org/bucket", /needs a token/],
    ["influxdb2://t@h/bucket", /must be influxdb2:\/\/TOKEN@HOST\/ORG\/BUCKET/],
    ["influxdb://h/db?measurement=a%20b", /measurement 'a b' must be letters/],
    ["influxdb://h/db#x", /must not have a #/],
  ];
  for (const [url, message] of cases) {
    assert.throws(() => parseExportUrl(url), (error: Error) => {
      assert.ok(error instanceof UsageError, url);
      assert.match(error.message, message, url);
      assert.ok(!error.message.includes("s3cret"), `${url}: no password in the message`);
      return true;
    });
  }
});

Deno.test("openseg serve --export-url: repeatable, from the environment, no duplicates", () => {
  assert.deepEqual(loadServeConfig([])!.databaseExports, []);
  const config = loadServeConfig([
    "--export-url",
    "postgres://u:p@h/energy",
    "--export-url",
    "influxdb://h/energy",
  ])!;
  assert.deepEqual(config.databaseExports.map((target) => target.kind), ["postgres", "influxdb"]);
  const fromEnv = loadServeConfig([], {
    env: { OPENSEG_EXPORT_URL: "postgres://u:p@h/energy, influxdb2://t@h/org/bucket" },
  })!;
  assert.deepEqual(fromEnv.databaseExports.map((target) => target.kind), ["postgres", "influxdb"]);
  assert.throws(
    () =>
      loadServeConfig([
        "--export-url",
        "postgres://u:p@h/energy",
        "--export-url",
        "postgres://u:other@h:5432/energy",
      ]),
    /--export-url: postgres:\/\/u:\*\*\*@h:5432\/energy is given twice/,
  );
});
