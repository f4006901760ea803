/**
 * Usage point ids: the ingest path assigns one when it first stores a meter, migration 8 gives
 * one to each meter stored before, and reading an id never writes.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { openDatabase } from "../../src/store/db.ts";
import { applyMigrations, MIGRATIONS } from "../../src/store/migrations.ts";
import {
  meterKeyForUsagePoint,
  newUsagePointId,
  usagePointIdFor,
} from "../../src/store/usage_points.ts";
import { csvLine } from "../../src/export/csv.ts";
import { EventWrites } from "../../src/store/writes.ts";

const METER = "0x00135003000a1b2c";

async function withDb(test: (path: string) => void) {
  const dir = await Deno.makeTempDir({ prefix: "openseg-usage-points-" });
  try {
    test(`${dir}/gateway.db`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const usagePointRows = (db: DatabaseSync) =>
  (db.prepare("SELECT count(*) AS n FROM usage_points").get() as { n: number }).n;

Deno.test("storing a meter assigns its usage point id once; reads do not write", async () => {
  await withDb((path) => {
    const db = openDatabase(path);
    const writes = new EventWrites(db);
    writes.meterSeen(METER, "/dev/ttyACM0", null, 1_000, 2_000);
    const id = usagePointIdFor(db, METER);
    assert.match(id, /^[A-Za-z0-9_-]{16}$/);
    writes.meterSeen(METER, "/dev/ttyACM0", null, 3_000, 4_000);
    assert.equal(usagePointIdFor(db, METER), id, "a repeat keeps the id");
    assert.equal(meterKeyForUsagePoint(db, id), METER);
    assert.throws(() => usagePointIdFor(db, "0x0000000000000001"), /never stored/);
    assert.equal(usagePointRows(db), 1, "the failed read added no row");
    db.close();
  });
});

Deno.test("a fresh usage point id reads back unchanged from a CSV download and a command line", () => {
  // One random base64url id in 64 would start with "-": 4 096 ids miss that with chance 1e-28.
  for (let i = 0; i < 4_096; i++) {
    const id = newUsagePointId();
    assert.match(id, /^[A-Za-z0-9_][A-Za-z0-9_-]{15}$/);
    assert.equal(csvLine([id]), id, "the CSV writes it as it is, not defused");
  }
});

Deno.test("migration 8 gives each meter stored without a usage point id its own", async () => {
  await withDb((path) => {
    const old = new DatabaseSync(path);
    applyMigrations(old, MIGRATIONS.filter((m) => m.version < 8));
    const insert = old.prepare(
      "INSERT INTO meters (meter_key, port, first_seen_ms, last_seen_ms) VALUES (?, 'p', 1, 1)",
    );
    insert.run(METER);
    insert.run("0x00135003000a1b2d");
    old.prepare("INSERT INTO usage_points (meter_key, usage_point_id) VALUES (?, 'kept')")
      .run("0x00135003000a1b2d");
    old.close();

    const db = openDatabase(path);
    const ids = [usagePointIdFor(db, METER), usagePointIdFor(db, "0x00135003000a1b2d")];
    assert.match(ids[0], /^[0-9a-f]{24}$/);
    assert.equal(ids[1], "kept", "an id already handed out is kept");
    db.close();
  });
});
