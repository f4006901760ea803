/**
 * The one read policy and the households store on a real SQLite file: who sees which meters and
 * which kinds of data in a single home and in a building, what an app's grant reads after its
 * meter moves to a neighbour, the one interval rule, and what removing a household takes with it.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { DatabaseSync } from "node:sqlite";
import { registerApp } from "../../src/auth/apps.ts";
import { createAuthorization, grantOf } from "../../src/auth/authorizations.ts";
import { GRANTED_DATA_KINDS } from "../../src/auth/granted_data.ts";
import { grantPolicy, personPolicy, servedIntervalS } from "../../src/auth/read_policy.ts";
import { createSession } from "../../src/auth/sessions.ts";
import { openDatabase } from "../../src/store/db.ts";
import {
  addHousehold,
  assignMeter,
  exportAllowedFor,
  householdCount,
  listHouseholds,
  removeHousehold,
  setExportAllowed,
} from "../../src/store/households.ts";
import { findUsagePointId } from "../../src/store/usage_points.ts";

const METERS = ["0x00135001000000a1", "0x00135001000000a2", "0x00135001000000b1"];

async function withDb(run: (db: DatabaseSync, ids: string[]) => void | Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "openseg-households-" });
  const db = openDatabase(`${dir}/openseg.db`);
  try {
    for (const [index, meterKey] of METERS.entries()) {
      db.prepare(
        `INSERT INTO meters (meter_key, port, first_seen_ms, last_seen_ms) VALUES (?, 'sim', ?, ?)`,
      ).run(meterKey, index, index);
      db.prepare("INSERT INTO usage_points (meter_key, usage_point_id) VALUES (?, ?)")
        .run(meterKey, `up-${index}`);
    }
    await run(db, METERS.map((meterKey) => findUsagePointId(db, meterKey)!));
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a single home: one household owns every meter, the administrator reads all", async () => {
  await withDb((db, ids) => {
    assert.equal(householdCount(db), 1);
    const administrator = personPolicy(db, null);
    assert.equal(administrator.administrator, true);
    assert.equal(administrator.householdId, 1, "the administrator is the home's household");
    assert.deepEqual([...administrator.usagePointIds], ids);
    assert.equal(administrator.grantedData.size, GRANTED_DATA_KINDS.length);
    assert.ok(exportAllowedFor(db, METERS[0]), "a single home exports without a switch");
  });
});

Deno.test("a building: households read their own, the administrator only link health", async () => {
  await withDb((db, ids) => {
    const flat = addHousehold(db, { name: "Flat B", nowMs: 1 });
    assert.equal(flat.householdId, 2);
    // The home kept what it had; the newcomer starts with nothing.
    assert.deepEqual([...personPolicy(db, 1).usagePointIds], ids);
    assert.deepEqual([...personPolicy(db, 2).usagePointIds], []);
    assert.ok(assignMeter(db, METERS[2], 2));
    assert.deepEqual([...personPolicy(db, 1).usagePointIds], ids.slice(0, 2));
    assert.deepEqual([...personPolicy(db, 2).usagePointIds], [ids[2]]);

    const administrator = personPolicy(db, null);
    assert.equal(administrator.householdId, null);
    assert.deepEqual([...administrator.usagePointIds], ids, "every meter, for link health");
    assert.deepEqual([...administrator.grantedData], ["METER_INFO"]);

    assert.equal(exportAllowedFor(db, METERS[2]), false, "off by default in a building");
    setExportAllowed(db, 2, true);
    assert.equal(exportAllowedFor(db, METERS[2]), true);
    assert.equal(exportAllowedFor(db, METERS[0]), false, "only the household that allowed it");

    // A meter nobody was given belongs to no one.
    assert.ok(assignMeter(db, METERS[1], null));
    assert.deepEqual([...personPolicy(db, 1).usagePointIds], [ids[0]]);
    assert.equal(assignMeter(db, "0xnot-a-meter", 1), false);
    assert.throws(() => assignMeter(db, METERS[0], 99), /no such household/);
  });
});

Deno.test("an app's grant reads only the meters its household still owns", async () => {
  await withDb((db, ids) => {
    addHousehold(db, { name: "Flat B", nowMs: 1 });
    const { app } = registerApp(db, {
      name: "Coach",
      redirectUris: ["https://coach.example/cb"],
      scopes: ["FB=1_4;IntervalDuration=2100"],
      nowMs: 1,
    });
    const authorization = createAuthorization(db, {
      clientId: app.clientId,
      scope: "FB=1_4;IntervalDuration=2100",
      usagePointIds: ids,
      householdId: 1,
      nowMs: 1,
    });
    const grant = grantOf(authorization)!;
    assert.deepEqual([...grantPolicy(db, grant).usagePointIds], ids);
    assignMeter(db, METERS[2], 2);
    assert.deepEqual([...grantPolicy(db, grant).usagePointIds], ids.slice(0, 2), "moved away");
    assignMeter(db, METERS[2], 1);
    assert.deepEqual([...grantPolicy(db, grant).usagePointIds], ids, "and back");
    assert.equal(grantPolicy(db, grant).intervalDurationS, 2100);
    assert.deepEqual(
      [...grantPolicy(db, grant).grantedData].sort(),
      ["INTERVAL_ENERGY", "METER_INFO"],
    );
  });
});

Deno.test("one interval rule: the smallest multiple of the stored one that divides a day", () => {
  assert.equal(servedIntervalS(300, null), 300);
  assert.equal(servedIntervalS(300, 60), 300);
  assert.equal(servedIntervalS(300, 900), 900);
  assert.equal(servedIntervalS(300, 2100), 2400);
  assert.equal(servedIntervalS(300, 3000), 3600);
  assert.equal(servedIntervalS(900, 2100), 2700);
  assert.equal(servedIntervalS(300, 86_400), 86_400);
  assert.equal(servedIntervalS(300, 86_401), null);
});

Deno.test("removing a household: meters unassigned, sessions and grants gone, never the last", async () => {
  await withDb((db, ids) => {
    assert.throws(() => removeHousehold(db, 1), /last household/);
    const flat = addHousehold(db, { name: "Flat B", nowMs: 1 });
    assignMeter(db, METERS[2], flat.householdId);
    createSession(db, { nowMs: 1, secure: false, householdId: flat.householdId });
    const { app } = registerApp(db, {
      name: "Coach",
      redirectUris: ["https://coach.example/cb"],
      scopes: ["FB=1_4"],
      nowMs: 1,
    });
    createAuthorization(db, {
      clientId: app.clientId,
      scope: "FB=1_4",
      usagePointIds: [ids[2]],
      householdId: flat.householdId,
      nowMs: 1,
    });
    removeHousehold(db, flat.householdId);
    const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
    assert.equal(count("SELECT count(*) AS n FROM owner_sessions WHERE household_id = 2"), 0);
    assert.equal(count("SELECT count(*) AS n FROM oauth_authorizations WHERE household_id = 2"), 0);
    assert.equal(count("SELECT count(*) AS n FROM meters WHERE household_id IS NULL"), 1);
    // Back to a single home: the one household owns every meter again, unassigned ones too.
    assert.deepEqual([...personPolicy(db, null).usagePointIds], ids);
    // Ids are never reused: a new household is not the removed one's RetailCustomer.
    assert.equal(addHousehold(db, { name: "Flat C", nowMs: 2 }).householdId, 3);
  });
});

Deno.test("household names: clear refusals, nothing stored", async () => {
  await withDb((db) => {
    for (
      const [name, problem] of [
        ["", /needs a name/],
        ["   ", /needs a name/],
        ["x".repeat(65), /at most 64/],
        ["Flat\u0007B", /control characters/],
        ["42", /only digits/],
        ["home", /exists already/],
      ] as const
    ) {
      assert.throws(() => addHousehold(db, { name, nowMs: 1 }), problem);
    }
    assert.deepEqual(listHouseholds(db).map((household) => household.name), ["Home"]);
  });
});
