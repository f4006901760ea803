/**
 * Issue 10, item 8 (identity): about 10 % of fragments with a flipped hex digit in `MeterMacId`
 * created permanent phantom meters (e.g. `0x00135001deadeef`) that the owner and the consent page
 * then listed. Over a real pty into the gateway, a stream without any announcement and with 10 %
 * corrupted ids now leaves exactly the real meter, with every one of its readings, and counts each
 * corrupted fragment as dropped. Meters the radio announces appear at once.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { DatabaseSync } from "node:sqlite";
import { createRandom } from "../../src/sim/household.ts";
import { listMeters } from "../../src/store/queries.ts";
import { countRows, waitFor } from "../e2e/helpers.ts";
import {
  connectionStatus,
  demand,
  DEVICE,
  fragment,
  METER,
  summation,
  withScriptedGateway,
} from "./meter_fixtures.ts";

const SECOND_METER = "0x0013500100deae02";
const START_MS = Date.UTC(2025, 2, 3, 12);
const STEP_MS = 10_000;
/** Readings per kind in the corrupted stream. */
const READINGS = 300;
/** Clean readings after it, so every phantom's confirmation window has closed. */
const TAIL = 70;
const HEX = "0123456789abcdef";

/** `meter` with one hex digit (after `0x`) replaced by a different one. */
function flipDigit(meter: string, random: () => number): string {
  const at = 2 + Math.floor(random() * (meter.length - 2));
  const digits = HEX.replace(meter[at], "");
  return meter.slice(0, at) + digits[Math.floor(random() * digits.length)] + meter.slice(at + 1);
}

function unconfirmedDrops(db: DatabaseSync): number {
  const row = db.prepare(
    "SELECT coalesce(sum(count), 0) AS n FROM warnings WHERE kind = 'unconfirmedMeter'",
  ).get() as { n: number };
  return row.n;
}

Deno.test("10 % corrupted MeterMacIds over a pty create no phantom meter and lose no reading", async () => {
  await withScriptedGateway(async ({ db, device }) => {
    const random = createRandom(10);
    let corrupted = 0;
    let clean = { demand: 0, summation: 0 };
    const phantoms = new Set<string>();
    for (let i = 0; i < READINGS + TAIL; i++) {
      const timeMs = START_MS + i * STEP_MS;
      let text = "";
      for (const kind of ["demand", "summation"] as const) {
        let meter = METER;
        if (i < READINGS && random() < 0.1) {
          meter = flipDigit(METER, random);
          phantoms.add(meter);
          corrupted++;
        } else {
          clean = { ...clean, [kind]: clean[kind] + 1 };
        }
        text += kind === "demand"
          ? demand(meter, timeMs, "0x" + (1000 + i).toString(16))
          : summation(meter, timeMs, "0x" + (5_000_000 + 10 * i).toString(16));
      }
      await device.write(text);
    }
    assert.ok(corrupted >= 40, `only ${corrupted} corrupted fragments`);
    await waitFor(
      "every clean reading of the real meter",
      () =>
        countRows(db, "demand", METER) === clean.demand &&
        countRows(db, "summation", METER) === clean.summation,
    );
    await waitFor("every corrupted fragment counted", () => unconfirmedDrops(db) === corrupted);
    assert.deepEqual(listMeters(db).map((m) => m.meterKey), [METER]);
    for (const table of ["demand", "summation", "meters", "latest_state", "join_state"]) {
      const keys = db.prepare(`SELECT DISTINCT meter_key AS k FROM ${table}`).all()
        .map((row) => String(row.k));
      assert.equal(keys.some((key) => phantoms.has(key)), false, `${table}: ${keys}`);
    }
  });
});

Deno.test("meters the radio announces (MeterList, ConnectionStatus) appear with their first reading", async () => {
  await withScriptedGateway(async ({ db, device }) => {
    await device.write(
      fragment("MeterList", [["DeviceMacId", DEVICE], ["MeterMacId", METER]]) +
        connectionStatus(SECOND_METER) +
        demand(METER, START_MS, "0x3e8") +
        demand(SECOND_METER, START_MS, "0x1f4"),
    );
    await waitFor(
      "one reading of each announced meter",
      () => countRows(db, "demand", METER) === 1 && countRows(db, "demand", SECOND_METER) === 1,
    );
    assert.deepEqual(listMeters(db).map((m) => m.meterKey), [METER, SECOND_METER]);
    assert.equal(unconfirmedDrops(db), 0);
  });
});
