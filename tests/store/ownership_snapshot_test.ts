/**
 * The read policy's ownership snapshot is read again whenever ownership may have changed: a new
 * meter stored here, a household change made here, or any commit by another connection (the CLI
 * run beside the gateway). A stale snapshot would let a household or an app read a meter it no
 * longer owns.
 *
 * @module
 */

import assert from "node:assert/strict";
import { openDatabase } from "../../src/store/db.ts";
import { addHousehold, assignMeter, ownershipSnapshot } from "../../src/store/households.ts";
import { EventWrites } from "../../src/store/writes.ts";

const METER_1 = "0x00135003000a0001";
const METER_2 = "0x00135003000a0002";

const owners = (db: ReturnType<typeof openDatabase>) =>
  Object.fromEntries(
    ownershipSnapshot(db).ownership.map((meter) => [meter.meterKey, meter.householdId]),
  );

Deno.test("the ownership snapshot follows new meters, this process's changes and other connections' commits", async () => {
  const dir = await Deno.makeTempDir({ prefix: "openseg-ownership-" });
  const db = openDatabase(`${dir}/gateway.db`);
  try {
    const writes = new EventWrites(db);
    writes.meterSeen(METER_1, "/dev/ttyACM0", null, 1_000, 2_000);
    assert.deepEqual(owners(db), { [METER_1]: 1 });
    assert.equal(ownershipSnapshot(db), ownershipSnapshot(db), "unchanged: the same snapshot");

    writes.meterSeen(METER_2, "/dev/ttyACM0", null, 1_000, 2_000);
    assert.deepEqual(owners(db), { [METER_1]: 1, [METER_2]: 1 }, "a new meter is seen at once");

    const flat = addHousehold(db, { name: "Flat 2", nowMs: 3_000 }).householdId;
    assignMeter(db, METER_2, flat);
    assert.deepEqual(owners(db), { [METER_1]: 1, [METER_2]: flat }, "an assignment here");
    assert.equal(ownershipSnapshot(db).households.length, 2);

    // `openseg households assign` beside the gateway: its own connection, no notice here.
    const cli = openDatabase(`${dir}/gateway.db`);
    cli.prepare("UPDATE meters SET household_id = 1 WHERE meter_key = ?").run(METER_2);
    cli.close();
    assert.deepEqual(owners(db), { [METER_1]: 1, [METER_2]: 1 }, "another connection's commit");
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});
