/**
 * Upgrades: a database written by release 0.1.0 (schema version 5, kept as a fixture made by
 * `fixtures/make_release_db.ts`) opened with the current schema loses nothing, whatever migrations
 * have been appended since; a database from a newer openseg is refused and left byte for byte.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { clientSecretMatches, findApp } from "../../src/auth/apps.ts";
import { findAuthorization } from "../../src/auth/authorizations.ts";
import { checkOwnerPassword } from "../../src/auth/owner.ts";
import { findSession, SESSION_COOKIE } from "../../src/auth/sessions.ts";
import { findToken } from "../../src/auth/tokens.ts";
import { openDatabase } from "../../src/store/db.ts";
import { MIGRATIONS, SchemaTooNewError } from "../../src/store/migrations.ts";
import type { ReleaseFixture } from "./fixtures/make_release_db.ts";

const FIXTURE = new URL("./fixtures/release-0.1.0", import.meta.url).pathname;
const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const LATEST_VERSION = MIGRATIONS.at(-1)?.version ?? 0;
/** Columns a migration removed on purpose: secrets stored in clear by 0.1.0 (migration 6). */
const REMOVED_SECRETS = ["devices.install_code", "meters.auth"];

async function withDir(test: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "openseg-upgrade-" });
  try {
    await test(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Every row of every table, in the columns the table had in `db`, in a stable order. */
function snapshot(db: DatabaseSync, columnsOf: Map<string, string[]>): Record<string, unknown[]> {
  const tables: Record<string, unknown[]> = {};
  for (const [table, columns] of columnsOf) {
    const list = columns.map((column) => `"${column}"`).join(", ");
    tables[table] = db.prepare(`SELECT ${list} FROM "${table}" ORDER BY ${list}`).all();
  }
  return tables;
}

function tableColumns(db: DatabaseSync): Map<string, string[]> {
  const tables = db.prepare(
    "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
  ).all() as { name: string }[];
  return new Map(tables.map(({ name }) => [
    name,
    (db.prepare(`PRAGMA table_info("${name}")`).all() as { name: string }[]).map((c) => c.name),
  ]));
}

Deno.test("the release 0.1.0 database opens with the current schema and keeps every row", async () => {
  const fixture = JSON.parse(await Deno.readTextFile(`${FIXTURE}.json`)) as ReleaseFixture;
  await withDir(async (dir) => {
    const path = `${dir}/gateway.db`;
    await Deno.copyFile(`${FIXTURE}.db`, path);

    const before = new DatabaseSync(path, { readOnly: true });
    const { user_version: fixtureVersion } = before.prepare("PRAGMA user_version").get() as {
      user_version: number;
    };
    const columns = tableColumns(before);
    const rows = snapshot(before, columns);
    // Every old column but the secrets migration 6 removes on purpose.
    const kept = new Map(
      [...columns].map(([table, names]) => [
        table,
        names.filter((name) => !REMOVED_SECRETS.includes(`${table}.${name}`)),
      ]),
    );
    const keptRows = snapshot(before, kept);
    before.close();
    assert.equal(fixtureVersion, fixture.schemaVersion);
    assert.ok(fixtureVersion <= LATEST_VERSION);
    // The fixture is realistic: ring data for two meters and the whole access-control set.
    for (const table of ["demand", "summation", "intervals", "demand_rollup", "prices"]) {
      assert.ok(rows[table].length > 20, `${table}: ${rows[table].length} rows`);
    }
    for (const table of ["meters", "usage_points"]) assert.equal(rows[table].length, 2);
    for (const table of ["owner_account", "owner_sessions", "oauth_apps"]) {
      assert.equal(rows[table].length, 1, table);
    }
    assert.equal(rows.oauth_tokens.length, 3); // registration, access, refresh

    const db = openDatabase(path);
    try {
      const { user_version: version } = db.prepare("PRAGMA user_version").get() as {
        user_version: number;
      };
      assert.equal(version, LATEST_VERSION);
      // Migrations may add tables and columns; every old row keeps every old value, except the
      // secrets migration 6 removes on purpose (only the install code's last 4 digits stay).
      assert.deepEqual(snapshot(db, kept), keptRows);
      for (const removed of REMOVED_SECRETS) {
        const [table, column] = removed.split(".");
        assert.ok(!tableColumns(db).get(table)!.includes(column), `${removed} is gone`);
      }
      const installCodes = new Map(
        (rows.devices as { device_mac: string; install_code: string | null }[])
          .map((row) => [row.device_mac, row.install_code?.slice(-4).toLowerCase() ?? null]),
      );
      const last4 = db.prepare("SELECT device_mac, install_code_last4 FROM devices").all() as {
        device_mac: string;
        install_code_last4: string | null;
      }[];
      assert.deepEqual(
        new Map(last4.map((row) => [row.device_mac, row.install_code_last4])),
        installCodes,
      );

      // And the secrets written by 0.1.0 still open the doors they opened.
      assert.ok(await checkOwnerPassword(db, fixture.ownerPassword));
      assert.equal(await checkOwnerPassword(db, "not the passphrase"), false);
      const request = new Request("http://gateway/", {
        headers: { cookie: `${SESSION_COOKIE}=${fixture.ownerSessionId}` },
      });
      assert.notEqual(findSession(db, request, fixture.nowMs), null);
      assert.equal(findApp(db, fixture.clientId)?.name, "Solar monitor");
      assert.ok(clientSecretMatches(db, fixture.clientId, fixture.clientSecret));
      assert.equal(findAuthorization(db, fixture.authorizationId)?.status, "active");
      for (const token of [fixture.accessToken, fixture.refreshToken]) {
        assert.equal(findToken(db, token, fixture.nowMs)?.authorizationId, fixture.authorizationId);
      }
      assert.equal(findToken(db, fixture.registrationToken, fixture.nowMs)?.kind, "registration");
    } finally {
      db.close();
    }
  });
});

Deno.test("migrations are numbered 1, 2, 3, … with no gap or duplicate", () => {
  // user_version says which have run: a gap or a duplicate (two branches appending the same
  // number) would skip a migration on some databases.
  assert.deepEqual(MIGRATIONS.map((m) => m.version), MIGRATIONS.map((_, i) => i + 1));
});

/** A database as a newer openseg would leave it: this schema, then a version this one lacks. */
function writeNewerDatabase(path: string) {
  const db = openDatabase(path);
  db.exec(`CREATE TABLE from_the_future (x INTEGER); INSERT INTO from_the_future VALUES (42);
    PRAGMA user_version = ${LATEST_VERSION + 1};`);
  db.close();
}

Deno.test("a database from a newer openseg is refused and left byte for byte", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/gateway.db`;
    writeNewerDatabase(path);
    const bytes = await Deno.readFile(path);
    const files = (await Array.fromAsync(Deno.readDir(dir))).map((entry) => entry.name).sort();

    assert.throws(
      () => openDatabase(path),
      (error) =>
        error instanceof SchemaTooNewError &&
        error.message.includes(`schema version ${LATEST_VERSION + 1}`) &&
        error.message.includes(`knows up to ${LATEST_VERSION}`),
    );
    assert.deepEqual(await Deno.readFile(path), bytes);
    const after = (await Array.fromAsync(Deno.readDir(dir))).map((entry) => entry.name).sort();
    assert.deepEqual(after, files);
  });
});

Deno.test("openseg commands refuse a newer database with one line and leave it alone", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/gateway.db`;
    writeNewerDatabase(path);
    const bytes = await Deno.readFile(path);
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-ffi", "--allow-env", "--allow-read", "--allow-write", MAIN, "status"],
      env: { NO_COLOR: "1", OPENSEG_DB: path },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 1, stderr);
    assert.equal(
      stderr,
      `openseg status: the database was written by a newer openseg (schema version ` +
        `${LATEST_VERSION + 1}; this one knows up to ${LATEST_VERSION}) and was left untouched: ` +
        "run that newer openseg, or restore a backup taken before it\n",
    );
    assert.deepEqual(await Deno.readFile(path), bytes);
  });
});
