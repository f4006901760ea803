/**
 * `openseg households` as the administrator runs it: a real subprocess on a real SQLite file with
 * three stored meters. Every action, every refusal (exit 2, one line, nothing stored changed), and
 * the setup codes it prints working on the real sign-in form.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { DatabaseSync } from "node:sqlite";
import { createAuthorization } from "../../src/auth/authorizations.ts";
import { registerApp } from "../../src/auth/apps.ts";
import { accountForSetupCode, checkOwnerPassword, setOwnerPassword } from "../../src/auth/owner.ts";
import { createSession } from "../../src/auth/sessions.ts";
import { openDatabase } from "../../src/store/db.ts";
import { setMeterName } from "../../src/store/meter_names.ts";
import { EventWrites } from "../../src/store/writes.ts";
import { openseg, withDbPath } from "./run_openseg.ts";

const KITCHEN = "0x00135003000a0001";
const FLAT_METER = "0x00135003000a0002";
const GARAGE = "0x00135003000a0003";

/** A gateway database that has heard three meters, two of them named. */
function seedMeters(path: string): void {
  const db = openDatabase(path);
  try {
    const writes = new EventWrites(db);
    for (const key of [KITCHEN, FLAT_METER, GARAGE]) {
      writes.meterSeen(key, "/dev/pts/9", null, Date.now() - 60_000, Date.now());
    }
    setMeterName(db, KITCHEN, "Kitchen");
    setMeterName(db, GARAGE, "Garage");
  } finally {
    db.close();
  }
}

function withDb<T>(path: string, read: (db: DatabaseSync) => T): T {
  const db = openDatabase(path);
  try {
    return read(db);
  } finally {
    db.close();
  }
}

async function withDbAsync<T>(path: string, read: (db: DatabaseSync) => Promise<T>): Promise<T> {
  const db = openDatabase(path);
  try {
    return await read(db);
  } finally {
    db.close();
  }
}

/** Everything the command may change, to show a refusal changed none of it. */
function snapshot(path: string): string {
  return withDb(path, (db) =>
    JSON.stringify([
      "households",
      "meters",
      "owner_sessions",
      "oauth_authorizations",
      "usage_points",
    ].map((table) => db.prepare(`SELECT * FROM ${table} ORDER BY 1`).all())));
}

function usagePointOf(path: string, meterKey: string): string {
  return withDb(
    path,
    (db) =>
      (db.prepare("SELECT usage_point_id AS id FROM usage_points WHERE meter_key = ?").get(
        meterKey,
      ) as { id: string }).id,
  );
}

async function listJson(path: string) {
  const list = await openseg(["households", "list", "--db", path, "--json"]);
  assert.equal(list.code, 0, list.stderr);
  return JSON.parse(list.stdout) as {
    singleHome: boolean;
    households: {
      householdId: number;
      name: string;
      hasPassword: boolean;
      setupCodeExpiresMs: number | null;
      exportAllowed: boolean;
      meters: { meterKey: string; name: string | null; usagePointId: string }[];
    }[];
    unassignedMeters: { meterKey: string }[];
  };
}

Deno.test("households add: the second household gets a code, the first one too and keeps its meters", async () => {
  await withDbPath(async (path) => {
    seedMeters(path);
    const single = await listJson(path);
    assert.equal(single.singleHome, true);
    assert.deepEqual(single.households[0].meters.map((m) => m.meterKey), [
      KITCHEN,
      FLAT_METER,
      GARAGE,
    ]);

    const add = await openseg(["households", "add", "Flat 2", "--db", path]);
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, /^Added household 2 "Flat 2" \(ESPI RetailCustomer 2\)\./);
    assert.match(add.stdout, /\/owner\/setup/);
    assert.match(add.stdout, /administrator password runs the gateway but reads no household's/);
    assert.match(add.stdout, /Meters that stayed with "Home": 0x00135003000a0001 \(Kitchen\), /);
    const codes = [...add.stdout.matchAll(/setup code: ([A-Z2-9]{10})/gi)].map((m) => m[1]);
    assert.equal(codes.length, 2, add.stdout);
    withDb(path, (db) => {
      assert.deepEqual(accountForSetupCode(db, codes[0], Date.now()), {
        kind: "household",
        householdId: 2,
      });
      assert.deepEqual(accountForSetupCode(db, codes[1], Date.now()), {
        kind: "household",
        householdId: 1,
      });
    });

    const list = await listJson(path);
    assert.equal(list.singleHome, false);
    assert.deepEqual(list.households.map((h) => [h.householdId, h.name, h.hasPassword]), [
      [1, "Home", false],
      [2, "Flat 2", false],
    ]);
    assert.ok(list.households.every((h) => (h.setupCodeExpiresMs ?? 0) > Date.now()));
    assert.ok(list.households.every((h) => !h.exportAllowed), "exports off in a building");
    assert.equal(list.households[0].meters.length, 3);
    assert.deepEqual(list.households[1].meters, []);
    assert.equal(list.households[0].meters[0].name, "Kitchen");
    assert.equal(list.households[0].meters[0].usagePointId, usagePointOf(path, KITCHEN));

    // A third household: Home has a pending code already, so only the newcomer's is printed.
    const third = await openseg(["households", "add", "Shop", "--db", path, "--json"]);
    assert.equal(third.code, 0, third.stderr);
    const added = JSON.parse(third.stdout);
    assert.equal(added.householdId, 3);
    assert.equal(added.retailCustomerId, 3);
    assert.match(added.setupCode, /^[A-Z2-9]{10}$/);
    assert.equal(added.becameMultiHousehold, null);
  });
});

Deno.test("households add: a household that already has a password keeps it, nothing re-keyed", async () => {
  await withDbPath(async (path) => {
    seedMeters(path);
    await openseg(["households", "add", "Flat 2", "--db", path]);
    await openseg(["households", "remove", "Flat 2", "--db", path]);
    await withDbAsync(path, (db) =>
      setOwnerPassword(db, "home's own passphrase", Date.now(), {
        kind: "household",
        householdId: 1,
      }));
    const add = await openseg(["households", "add", "Flat 3", "--db", path, "--json"]);
    assert.equal(add.code, 0, add.stderr);
    const added = JSON.parse(add.stdout);
    assert.equal(added.becameMultiHousehold.setupCode, null);
    assert.equal(added.becameMultiHousehold.meters.length, 3);
    const stillWorks = await withDbAsync(
      path,
      (db) =>
        checkOwnerPassword(db, "home's own passphrase", { kind: "household", householdId: 1 }),
    );
    assert.ok(stillWorks);
  });
});

Deno.test("households list prints households, meters and unassigned meters in words", async () => {
  await withDbPath(async (path) => {
    seedMeters(path);
    const single = await openseg(["households", "list", "--db", path]);
    assert.equal(single.code, 0, single.stderr);
    assert.match(single.stdout, /1 {2}Home {2}signs in with the administrator password/);
    assert.match(single.stdout, /exports on/);
    await openseg(["households", "add", "Flat 2", "--db", path]);
    await openseg(["households", "unassign", "Garage", "--db", path]);
    const list = await openseg(["households", "list", "--db", path]);
    assert.match(list.stdout, /2 {2}Flat 2 {2}setup code pending until 20\d\d-/);
    assert.match(list.stdout, /exports off/);
    assert.match(list.stdout, /\(no meters\)/);
    assert.match(
      list.stdout,
      new RegExp(
        `Unassigned meters \\(nobody reads them\\):\\n +${GARAGE} {2}Garage {2}usage point ${
          usagePointOf(path, GARAGE)
        }\\n$`,
      ),
    );
  });
});

Deno.test("households assign names meters by key, usage point or name, and households by name or id", async () => {
  await withDbPath(async (path) => {
    seedMeters(path);
    await openseg(["households", "add", "Flat 2", "--db", path]);
    const byKey = await openseg(["households", "assign", "flat 2", FLAT_METER, "--db", path]);
    assert.equal(byKey.code, 0, byKey.stderr);
    assert.match(byKey.stdout, /now belongs to "Flat 2"/);
    assert.match(byKey.stdout, /"Home" and the apps it authorized no longer read it/);
    const byUsagePoint = await openseg([
      "households",
      "assign",
      "2",
      usagePointOf(path, GARAGE),
      "--db",
      path,
    ]);
    assert.equal(byUsagePoint.code, 0, byUsagePoint.stderr);
    const byName = await openseg(["households", "assign", "Flat 2", "kitchen", "--db", path]);
    assert.equal(byName.code, 0, byName.stderr);
    let list = await listJson(path);
    assert.deepEqual(list.households[1].meters.map((m) => m.meterKey), [
      KITCHEN,
      FLAT_METER,
      GARAGE,
    ]);
    const again = await openseg(["households", "assign", "Flat 2", "Kitchen", "--db", path]);
    assert.match(again.stdout, /already belongs to "Flat 2"/);

    const none = await openseg(["households", "assign", "--none", "Kitchen", "--db", path]);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stdout, /now belongs to no household/);
    const unassign = await openseg(["households", "unassign", "00135003000A0002", "--db", path]);
    assert.equal(unassign.code, 0, unassign.stderr);
    list = await listJson(path);
    assert.deepEqual(list.unassignedMeters.map((m) => m.meterKey), [KITCHEN, FLAT_METER]);
    assert.deepEqual(list.households[1].meters.map((m) => m.meterKey), [GARAGE]);
  });
});

Deno.test("households takes words that start with '-' (usage point ids are base64url) as words", async () => {
  await withDbPath(async (path) => {
    seedMeters(path);
    // A usage point id as the gateway may hand one out: base64url, here with a leading '-'.
    withDb(
      path,
      (db) =>
        db.prepare("UPDATE usage_points SET usage_point_id = ? WHERE meter_key = ?")
          .run("-yAbCdEfGhIjKlMn", GARAGE),
    );
    const add = await openseg(["households", "add", "-5 West", "--db", path]);
    assert.equal(add.code, 0, add.stderr);
    const assign = await openseg([
      "households",
      "assign",
      "--db",
      path,
      "-5 west",
      "-yAbCdEfGhIjKlMn",
    ]);
    assert.equal(assign.code, 0, assign.stderr);
    assert.match(
      assign.stdout,
      new RegExp(`Meter ${GARAGE} \\(Garage\\) now belongs to "-5 West"`),
    );
    const unassign = await openseg(["households", "unassign", "-yAbCdEfGhIjKlMn", "--db", path]);
    assert.equal(unassign.code, 0, unassign.stderr);
    const afterDash = await openseg(["households", "assign", "--db", path, "--", "2", "Garage"]);
    assert.equal(afterDash.code, 0, afterDash.stderr);
    const typo = await openseg(["households", "list", "--jsn", "--db", path]);
    assert.equal(typo.code, 2);
    assert.equal(typo.stderr, "openseg households: Unknown option '--jsn'\n");
  });
});

Deno.test("households remove unassigns its meters, ends its sessions and deletes its authorizations", async () => {
  await withDbPath(async (path) => {
    seedMeters(path);
    await openseg(["households", "add", "Flat 2", "--db", path]);
    await openseg(["households", "assign", "Flat 2", FLAT_METER, "--db", path]);
    withDb(path, (db) => {
      createSession(db, { nowMs: Date.now(), secure: false, householdId: 2 });
      createSession(db, { nowMs: Date.now(), secure: false, householdId: 1 });
      const app = registerApp(db, {
        name: "Coach",
        redirectUris: ["https://coach.example/cb"],
        nowMs: Date.now(),
      });
      createAuthorization(db, {
        clientId: app.app.clientId,
        scope: app.app.scopes[0],
        usagePointIds: [usagePointOf(path, FLAT_METER)],
        nowMs: Date.now(),
        householdId: 2,
      });
    });
    const remove = await openseg(["households", "remove", "flat 2", "--db", path]);
    assert.equal(remove.code, 0, remove.stderr);
    assert.match(remove.stdout, /^Removed household 2 "Flat 2"\./);
    assert.match(remove.stdout, new RegExp(`Its meters are unassigned now: ${FLAT_METER}\\n`));
    assert.match(remove.stdout, /sessions ended and its 1 app authorization\(s\) were deleted/);
    assert.match(remove.stdout, /One household is left: it owns every meter again/);
    withDb(path, (db) => {
      const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
      assert.equal(count("SELECT count(*) AS n FROM owner_sessions WHERE household_id = 2"), 0);
      assert.equal(count("SELECT count(*) AS n FROM owner_sessions WHERE household_id = 1"), 1);
      assert.equal(count("SELECT count(*) AS n FROM oauth_authorizations"), 0);
      assert.equal(count("SELECT count(*) AS n FROM households"), 1);
    });
    const single = await listJson(path);
    assert.equal(single.singleHome, true);
    assert.equal(single.households[0].meters.length, 3, "the one household owns every meter");
  });
});

Deno.test("households re-key: a new code, the old password stops working", async () => {
  await withDbPath(async (path) => {
    seedMeters(path);
    await openseg(["households", "add", "Flat 2", "--db", path]);
    const account = { kind: "household", householdId: 2 } as const;
    await withDbAsync(
      path,
      (db) => setOwnerPassword(db, "flat two passphrase", Date.now(), account),
    );
    const rekey = await openseg(["households", "re-key", "Flat 2", "--db", path]);
    assert.equal(rekey.code, 0, rekey.stderr);
    const code = rekey.stdout.match(/New setup code for "Flat 2": ([A-Z2-9]{10}) /)?.[1];
    assert.ok(code, rekey.stdout);
    assert.match(rekey.stdout, /old password stopped working/);
    await withDbAsync(path, async (db) => {
      assert.ok(!await checkOwnerPassword(db, "flat two passphrase", account));
      assert.deepEqual(accountForSetupCode(db, code, Date.now()), account);
    });
    const json = await openseg(["households", "re-key", "2", "--db", path, "--json"]);
    const rekeyed = JSON.parse(json.stdout);
    assert.equal(rekeyed.householdId, 2);
    assert.notEqual(rekeyed.setupCode, code);
    withDb(path, (db) => assert.equal(accountForSetupCode(db, code, Date.now()), null));
  });
});

Deno.test("households refuses bad input with one line and exit 2, and changes nothing", async () => {
  await withDbPath(async (path) => {
    seedMeters(path);
    await openseg(["households", "add", "Flat 2", "--db", path]);
    await openseg(["households", "assign", "Flat 2", FLAT_METER, "--db", path]);
    withDb(path, (db) => setMeterName(db, GARAGE, "Kitchen"));
    const before = snapshot(path);
    const cases: [string[], string][] = [
      [["add", "flat 2"], 'a household named "flat 2" exists already'],
      [["add", ""], "a household needs a name"],
      [["add", "   "], "a household needs a name"],
      [["add", "Flat\u00072"], "a household name cannot hold control characters"],
      [["add", "Flat\n2"], "a household name cannot hold control characters"],
      [["add", "42"], "a household name cannot be only digits (ids are)"],
      [["add", "Administrator"], 'a household cannot be named "administrator"'],
      [["add", "x".repeat(65)], "a household name has at most 64 characters"],
      [["add"], "name the household to add"],
      [["assign", "Flat 9", FLAT_METER], `no household "Flat 9" (see 'openseg households list')`],
      [["assign", "7", FLAT_METER], `no household "7" (see 'openseg households list')`],
      [
        ["assign", "Flat 2", "0x00135003000a9999"],
        `no meter "0x00135003000a9999" (see 'openseg households list')`,
      ],
      [["assign", "Flat 2", "Pantry"], `no meter "Pantry" (see 'openseg households list')`],
      [["assign", "Flat 2", "kitchen"], '2 meters are named "kitchen": name one by its meter key'],
      [["assign", "Flat 2"], "name the HOUSEHOLD and the METER"],
      [["assign", "--none", "Flat 2", FLAT_METER], "name the METER to unassign"],
      [["unassign", "nothing"], `no meter "nothing" (see 'openseg households list')`],
      [["remove", "Flat 9"], `no household "Flat 9" (see 'openseg households list')`],
      [["re-key", "Flat 9"], `no household "Flat 9" (see 'openseg households list')`],
      [["frobnicate"], "unknown action 'frobnicate'"],
    ];
    for (const [args, message] of cases) {
      const result = await openseg(["households", ...args, "--db", path]);
      assert.equal(result.code, 2, args.join(" "));
      assert.equal(result.stderr, `openseg households: ${message}\n`, args.join(" "));
      assert.equal(result.stdout, "", args.join(" "));
    }
    assert.equal(snapshot(path), before, "no refusal changed anything");
  });
});

Deno.test("households refuses the last household, re-keying or assigning in a single home, and a missing database", async () => {
  await withDbPath(async (path) => {
    seedMeters(path);
    const before = snapshot(path);
    const last = await openseg(["households", "remove", "Home", "--db", path]);
    assert.equal(last.code, 2);
    assert.equal(last.stderr, "openseg households: the last household cannot be removed\n");
    const rekey = await openseg(["households", "re-key", "1", "--db", path]);
    assert.equal(rekey.code, 2);
    assert.match(rekey.stderr, /^openseg households: with one household the administrator .*\n$/);
    assert.equal(snapshot(path), before);

    for (const action of [["assign", "Home", KITCHEN], ["unassign", "Garage"]]) {
      const result = await openseg(["households", ...action, "--db", path]);
      assert.equal(result.code, 2, action.join(" "));
      assert.equal(
        result.stderr,
        "openseg households: with one household it owns every meter: add a second with " +
          "'openseg households add NAME' first\n",
      );
    }
    assert.equal(snapshot(path), before);

    const missing = path.replace(/openseg\.db$/, "typo.db");
    for (const action of [["list"], ["assign", "Home", KITCHEN], ["remove", "Home"]]) {
      const result = await openseg(["households", ...action, "--db", missing]);
      assert.equal(result.code, 2, action.join(" "));
      assert.equal(result.stderr, `openseg households: no database at ${missing}\n`);
    }
    const badName = await openseg(["households", "add", "123", "--db", missing]);
    assert.equal(badName.code, 2);
    await assert.rejects(Deno.stat(missing), Deno.errors.NotFound, "no database was created");
  });
});
