/**
 * Issue 10, item 8 (values): a hostile device sends values beyond every physical and schema
 * range — a demand of int32 max × Multiplier 0xffffff (3.6·10^16 W, the `peakDemand` that broke
 * the ESPI feed) and a 64-bit all-ones summation. Over a real pty into the gateway, they are
 * refused and counted, the store never holds them and the ESPI feed validates. A database that
 * already holds such values (written before this check existed) still gives a valid feed.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { DatabaseSync } from "node:sqlite";
import type { Caller } from "../../src/auth/caller.ts";
import { dispatchEspi } from "../../src/espi/routes.ts";
import type { DemandEvent, SummationEvent } from "../../src/radio/events.ts";
import { openDatabase } from "../../src/store/db.ts";
import { IngestWriter } from "../../src/store/ingest.ts";
import { countRows, waitFor } from "../e2e/helpers.ts";
import { xmllint } from "../espi/fixtures.ts";
import {
  connectionStatus,
  demand,
  DEVICE,
  METER,
  summation,
  withScriptedGateway,
} from "./meter_fixtures.ts";

const MINUTE_MS = 60_000;
/** Readings start here, one a minute for 20 minutes. */
const START_MS = Date.UTC(2025, 2, 3, 12);
const END_MS = START_MS + 20 * MINUTE_MS;
const HOSTILE_DEMAND_W = 0x7fffffff * 0xffffff;

/** The owner's Download My Data feed of every usage point, validated with the ESPI schema. */
async function validatedFeed(db: DatabaseSync, dir: string): Promise<string> {
  const owner: Caller = { kind: "owner", sessionId: "s", householdId: null };
  const services = {
    db,
    nowMs: () => END_MS + 10 * MINUTE_MS,
    publicBaseUrl: "http://127.0.0.1:8080",
    timeZone: "UTC",
    secure: false,
  };
  const request = new Request(
    "http://127.0.0.1:8080/espi/1_1/resource/Batch/RetailCustomer/1/UsagePoint",
  );
  const response = dispatchEspi(request, services, owner);
  const body = await response.text();
  assert.equal(response.status, 200, body);
  const file = `${dir}/feed.xml`;
  await Deno.writeTextFile(file, body);
  const { code, output } = await xmllint([file]);
  assert.equal(code, 0, output);
  return body;
}

function warningCount(db: DatabaseSync, kind: string): number {
  const row = db.prepare("SELECT coalesce(sum(count), 0) AS n FROM warnings WHERE kind = ?")
    .get(kind) as { n: number };
  return row.n;
}

Deno.test("hostile meter values over a pty are refused, counted, and the ESPI feed validates", async () => {
  await withScriptedGateway(async ({ db, dir, device }) => {
    await device.write(connectionStatus(METER));
    let text = "";
    for (let minute = 0; minute <= 20; minute++) {
      const timeMs = START_MS + minute * MINUTE_MS;
      text += demand(METER, timeMs, "0x" + (1500 + minute).toString(16));
      text += summation(METER, timeMs, "0x" + (1_000_000 + 25 * minute).toString(16));
      if (minute === 10) {
        text += demand(METER, timeMs + 30_000, "0x7fffffff", "0xffffff");
        text += summation(METER, timeMs + 30_000, "0xffffffffffffffff");
      }
    }
    await device.write(text);
    await waitFor(
      "the 21 real readings of each kind",
      () => countRows(db, "demand", METER) === 21 && countRows(db, "summation", METER) === 21,
    );
    await waitFor("two counted refusals", () => warningCount(db, "decodeError") === 2);

    const maxDemand = db.prepare("SELECT max(abs(demand_w)) AS w FROM demand").get() as {
      w: number;
    };
    assert.equal(maxDemand.w, 1520);
    const maxRegister = db.prepare("SELECT max(delivered_wh) AS wh FROM summation").get() as {
      wh: number;
    };
    assert.equal(maxRegister.wh, 1_000_500);
    const body = await validatedFeed(db, dir);
    // The summary covers whole intervals: the peak of minutes 0–19.
    assert.match(body, /<espi:peakDemand>(?:(?!peakDemand).)*<espi:value>1519</s);
    assert.doesNotMatch(body, new RegExp(String(HOSTILE_DEMAND_W)));
  });
});

Deno.test("values stored before the range check existed never leave the ESPI feed invalid", async () => {
  const dir = await Deno.makeTempDir({ prefix: "openseg-hostile-meter-" });
  const db = openDatabase(`${dir}/gateway.db`);
  try {
    // What the old decoder let through, written straight into the store.
    const writer = new IngestWriter(db);
    for (let minute = 0; minute <= 20; minute++) {
      const timeMs = START_MS + minute * MINUTE_MS;
      const base = { device: DEVICE, meter: METER, timeMs, digitsRight: 3 };
      const hostile = minute === 10;
      writer.add(
        "scripted",
        {
          ...base,
          fragment: "InstantaneousDemand",
          kind: "demand",
          demandW: hostile ? HOSTILE_DEMAND_W : 1500,
        } satisfies DemandEvent,
        timeMs,
      );
      writer.add(
        "scripted",
        {
          ...base,
          fragment: "CurrentSummationDelivered",
          kind: "summation",
          summationDeliveredWh: hostile ? 2 ** 64 - 1 : 1_000_000 + 25 * minute,
          summationReceivedWh: 0,
        } satisfies SummationEvent,
        timeMs,
      );
    }
    writer.close();
    const body = await validatedFeed(db, dir);
    assert.doesNotMatch(body, new RegExp(String(HOSTILE_DEMAND_W)));
    // The summary still says when the peak was; only the value that no Int48 holds is left out.
    assert.match(body, /<espi:peakDemand>(?:(?!<espi:value>).)*<\/espi:peakDemand>/s);
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});
