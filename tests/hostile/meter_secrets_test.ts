/**
 * Issue 10, item 9: the radio's `InstallCode` and MeterInfo `Auth` were stored in clear. After a
 * radio reports both over a real pty, and after migration 6 ran over a database an older version
 * filled, neither the database file nor its WAL holds the clear values; only the install code's
 * last four hex digits remain, for `openseg status`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { formatStatus } from "../../src/cli/status.ts";
import { openDatabase } from "../../src/store/db.ts";
import { applyMigrations, MIGRATIONS } from "../../src/store/migrations.ts";
import { storeStatus } from "../../src/store/queries.ts";
import { waitFor } from "../e2e/helpers.ts";
import {
  connectionStatus,
  DEVICE,
  fragment,
  METER,
  withScriptedGateway,
} from "./meter_fixtures.ts";

const INSTALL_CODE = "0x8ba7f1dee6c4f5cc";
const AUTH = "s3cr3t-Auth-7731";
/** Byte strings none of the files may contain: the secrets, also in part and in upper case. */
const FORBIDDEN = [
  "8ba7f1dee6c4f5cc",
  "8BA7F1DEE6C4F5CC",
  "8ba7f1dee6c4",
  AUTH,
];

/** The clear secrets found in the database file and its WAL (empty when there are none). */
async function secretsOnDisk(path: string): Promise<string[]> {
  const found: string[] = [];
  for (const file of [path, `${path}-wal`]) {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(file);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw error;
    }
    // latin1 maps every byte to one character, so a byte search is a string search.
    const text = new TextDecoder("latin1").decode(bytes);
    for (const secret of FORBIDDEN) if (text.includes(secret)) found.push(`${file}: ${secret}`);
  }
  return found;
}

const DEVICE_INFO = fragment("DeviceInfo", [
  ["DeviceMacId", DEVICE],
  ["InstallCode", INSTALL_CODE],
  ["LinkKey", "0x2bce8fe1b0d7a52a52e4a4b8d2a7b1c9"],
  ["FWVersion", "2.0.0 (7400)"],
  ["HWVersion", "2.7.3"],
  ["ImageType", "0x2201"],
  ["Manufacturer", "Rainforest Automation, Inc."],
  ["ModelId", "Z105-2-EMU2-LEDD_JM"],
  ["DateCode", "2013052301500042"],
]);

const METER_INFO = fragment("MeterInfo", [
  ["DeviceMacId", DEVICE],
  ["MeterMacId", METER],
  ["MeterType", "electric"],
  ["NickName", "House"],
  ["Account", "A-1"],
  ["Auth", AUTH],
  ["Host", "utility.example"],
  ["Enabled", "Y"],
]);

Deno.test("a radio's InstallCode and MeterInfo Auth over a pty are not stored in clear", async () => {
  await withScriptedGateway(async ({ db, path, device }) => {
    await device.write(connectionStatus(METER) + DEVICE_INFO + METER_INFO);
    await waitFor("the device and the meter info", () => {
      const row = db.prepare(
        `SELECT (SELECT count(*) FROM devices) AS devices,
           (SELECT count(*) FROM meters WHERE info_received_ms IS NOT NULL) AS infos`,
      ).get() as { devices: number; infos: number };
      return row.devices === 1 && row.infos === 1;
    });
    assert.deepEqual(await secretsOnDisk(path), []);
    const [status] = storeStatus(db);
    assert.equal(status.installCodeLast4, "f5cc");
    assert.match(formatStatus([status]), /install: {2}code ends f5cc/);
    const meter = db.prepare("SELECT * FROM meters").get() as Record<string, unknown>;
    assert.equal(Object.hasOwn(meter, "auth"), false);
    assert.equal(meter.account, "A-1");
  });
});

Deno.test("migration 6 removes the clear values an older version stored, file and WAL", async () => {
  const dir = await Deno.makeTempDir({ prefix: "openseg-hostile-meter-" });
  const path = `${dir}/gateway.db`;
  try {
    // A database as the previous version left it: install code and auth in clear, in the file
    // (after a checkpoint) and in WAL frames (rewritten since).
    const old = new DatabaseSync(path);
    old.exec("PRAGMA journal_mode = WAL");
    applyMigrations(old, MIGRATIONS.filter((m) => m.version < 6));
    old.prepare(
      `INSERT INTO devices (device_mac, port, install_code, received_ms) VALUES (?, 'p', ?, 1)`,
    ).run(DEVICE, INSTALL_CODE);
    old.prepare(
      `INSERT INTO meters (meter_key, port, first_seen_ms, last_seen_ms, auth)
       VALUES (?, 'p', 1, 1, ?)`,
    ).run(METER, AUTH);
    old.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    old.exec("UPDATE devices SET received_ms = 2; UPDATE meters SET last_seen_ms = 2");
    assert.notDeepEqual(await secretsOnDisk(path), [], "the old database holds the secrets");

    const db = openDatabase(path);
    assert.deepEqual(await secretsOnDisk(path), []);
    const row = db.prepare("SELECT install_code_last4 AS last4 FROM devices").get() as {
      last4: string;
    };
    assert.equal(row.last4, "f5cc");
    db.close();
    old.close();
    assert.deepEqual(await secretsOnDisk(path), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
