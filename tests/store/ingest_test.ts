/**
 * The batching writer: every stored kind, de-duplication, receive times, onCommit, bad input,
 * the timer, and flush throughput.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import type { MeterEvent } from "../../src/radio/events.ts";
import { IngestWriter, type StoredEvent } from "../../src/store/ingest.ts";
import { demandSeries, latestReadings, listMeters, storeStatus } from "../../src/store/queries.ts";
import {
  connection,
  demand,
  DEVICE,
  deviceInfo,
  HOUR_MS,
  message,
  METER_A,
  METER_B,
  meterInfo,
  meterList,
  MINUTE_MS,
  PORT,
  price,
  rowCount,
  summation,
  T0,
  tempDatabase,
  time,
} from "./fixtures.ts";

Deno.test("every stored kind lands in its table", async () => {
  const { db, cleanup } = await tempDatabase();
  try {
    const writer = new IngestWriter(db);
    writer.add(PORT, deviceInfo(), T0);
    writer.add(PORT, meterList([METER_A]), T0);
    writer.add(PORT, connection(METER_A), T0);
    writer.add(PORT, meterInfo(METER_A, "House"), T0);
    writer.add(PORT, demand(METER_A, T0, 1500), T0 + 1);
    writer.add(PORT, summation(METER_A, T0, 12_000, 340), T0 + 2);
    writer.add(PORT, price(METER_A, T0, 0.12), T0 + 3);
    writer.add(PORT, message(METER_A, T0, "0x0001"), T0 + 4);
    writer.add(PORT, time(METER_A, T0), T0 + 5);
    writer.recordLinkState(PORT, "connected", T0, "EMU-2 on ttyACM0");
    writer.countWarning(PORT, METER_A, "crcError", 3);
    const stats = writer.flush();
    writer.close();
    assert.equal(stats.stored, 9);
    for (
      const table of ["devices", "ports", "join_state", "meters", "demand", "summation", "prices"]
    ) {
      assert.equal(rowCount(db, table), 1, table);
    }
    assert.equal(rowCount(db, "messages"), 1);
    assert.equal(rowCount(db, "latest_state"), 1);
    assert.equal(rowCount(db, "demand_rollup"), 2); // 1-minute and 15-minute cell

    const device = db.prepare("SELECT * FROM devices").get() as Record<string, unknown>;
    assert.equal(device.device_mac, DEVICE);
    assert.equal(device.model_id, "Z105-2-EMU2-LEDD_JM");
    const port = db.prepare("SELECT * FROM ports").get() as Record<string, unknown>;
    assert.equal(port.known_meter_key, METER_A);
    assert.equal(port.meter_list_json, JSON.stringify([METER_A]));
    assert.equal(port.device_mac, DEVICE);
    assert.equal(port.link_state, "connected");

    assert.deepEqual(listMeters(db), [{
      meterKey: METER_A,
      port: PORT,
      deviceMac: DEVICE,
      firstSeenMs: T0,
      lastSeenMs: T0 + 5,
      name: "House",
    }]);
    const latest = latestReadings(db, METER_A);
    assert.equal(latest.demand?.demandW, 1500);
    assert.equal(latest.summation?.receivedWh, 340);
    assert.equal(latest.price?.pricePerKWh, 0.12);
    assert.equal(latest.messages[0].messageId, "0x0001");
    assert.equal(latest.connection?.connected, true);
    assert.deepEqual(Object.keys(latest.other), ["time"]);
    const [status] = storeStatus(db, { nowMs: T0 + 10 });
    assert.equal(status.warnings.crcError, 3);
    assert.equal(status.link?.state, "connected");
  } finally {
    await cleanup();
  }
});

Deno.test("de-duplicates on (meter, meter time) and keeps the receive time", async () => {
  const { db, cleanup } = await tempDatabase();
  try {
    const writer = new IngestWriter(db);
    writer.add(PORT, demand(METER_A, T0, 1000), T0 + 700);
    writer.add(PORT, demand(METER_A, T0, 1000), T0 + 900); // same meter time: duplicate
    writer.add(PORT, demand(METER_B, T0, 1000), T0 + 900); // other meter: not a duplicate
    assert.equal(writer.flush().duplicates, 1);
    writer.add(PORT, demand(METER_A, T0, 1000), T0 + 5000); // duplicate in a later flush
    writer.add(PORT, demand(METER_A, null, 800), T0 + 6000); // no meter time: receive time
    writer.add(PORT, demand(METER_A, null, 800), T0 + 7000);
    const stats = writer.flush();
    writer.close();
    assert.equal(stats.duplicates, 1);
    assert.equal(stats.stored, 2);
    const rows = db.prepare(
      "SELECT ts_ms AS tsMs, received_ms AS receivedMs FROM demand WHERE meter_key = ? ORDER BY ts_ms",
    ).all(METER_A);
    assert.deepEqual(rows.map((row) => ({ ...row })), [
      { tsMs: T0, receivedMs: T0 + 700 },
      { tsMs: T0 + 6000, receivedMs: T0 + 6000 },
      { tsMs: T0 + 7000, receivedMs: T0 + 7000 },
    ]);
    // The rollup counted each sample once.
    const [bucket] = demandSeries(db, {
      meterKey: METER_A,
      fromMs: T0,
      toMs: T0 + MINUTE_MS,
      bucketMinutes: 1,
    });
    assert.equal(bucket.samples, 3);
    assert.equal(storeStatus(db)[0].warnings.duplicateEvent, 2);
  } finally {
    await cleanup();
  }
});

Deno.test("big flushes store exactly what one event per flush stores", async () => {
  // A stream with what the multi-row path must get right: two meters interleaved, a late
  // (older, new) sample, repeats of rows still queued in the flush and of rows written earlier.
  const events: MeterEvent[] = [];
  for (let i = 0; i < 700; i++) {
    const timeMs = T0 + i * 8000;
    if (i % 97 === 13) continue; // sent late, below
    events.push(demand(i % 3 ? METER_A : METER_B, timeMs, 200 + (i * 37) % 900));
    if (i % 8 === 7) events.push(summation(METER_A, timeMs, 10_000 + i * 3, i));
    if (i % 50 === 49) events.push(demand(METER_A, timeMs - 16_000, 1)); // repeat
    if (i % 97 === 20) events.push(demand(METER_A, timeMs - 56_000, 5)); // late, new
    if (i % 131 === 130) events.push(summation(METER_A, T0 + 7 * 8000, 1, 1)); // old repeat
  }
  const store = async (maxBatch: number, flushEvery: number) => {
    const { db, cleanup } = await tempDatabase();
    try {
      const committed: [string, number | null, number][] = [];
      const writer = new IngestWriter(db, {
        maxBatch,
        onCommit: (stored) => {
          for (const { meterKey, event, receivedAtMs } of stored) {
            committed.push([meterKey, event.timeMs, receivedAtMs]);
          }
        },
      });
      events.forEach((event, i) => {
        writer.add(PORT, event, T0 + i);
        if (i % flushEvery === flushEvery - 1) writer.flush();
      });
      writer.close();
      const table = (sql: string) => db.prepare(sql).all().map((row) => ({ ...row }));
      return {
        committed,
        demand: table("SELECT * FROM demand ORDER BY meter_key, ts_ms"),
        summation: table("SELECT * FROM summation ORDER BY meter_key, ts_ms"),
        rollup: table("SELECT * FROM demand_rollup ORDER BY meter_key, bucket_min, bucket_ms"),
        intervals: table("SELECT * FROM intervals ORDER BY meter_key, start_ms"),
        warnings: table("SELECT port, meter_key, kind, count FROM warnings ORDER BY kind"),
      };
    } finally {
      await cleanup();
    }
  };
  const single = await store(1, 1);
  const batched = await store(10_000, 333); // flushes of 333 rows: full and partial statements
  const duplicates = single.warnings.find((row) => row.kind === "duplicateEvent");
  assert.equal(duplicates?.count, 15);
  assert.deepEqual(batched, single);
});

Deno.test("messages upsert by id and keep a confirmation", async () => {
  const { db, cleanup } = await tempDatabase();
  try {
    const writer = new IngestWriter(db);
    writer.add(PORT, message(METER_A, T0, "0x0a"), T0);
    writer.add(PORT, message(METER_A, T0 + 1000, "0x0a", { confirmed: true }), T0 + 1000);
    writer.add(PORT, message(METER_A, T0 + 2000, "0x0a", { text: "Updated" }), T0 + 2000);
    writer.add(PORT, message(METER_A, T0 + 3000, null), T0 + 3000); // "no message"
    writer.close();
    const { messages, other } = latestReadings(db, METER_A);
    assert.equal(messages.length, 1);
    assert.equal(messages[0].text, "Updated");
    assert.equal(messages[0].confirmed, true);
    assert.equal(messages[0].timeMs, T0 + 2000);
    assert.ok(other.message, "the empty message is the latest message state");
  } finally {
    await cleanup();
  }
});

Deno.test("meter key: event meter, else the port's known meter, else device, else port", async () => {
  const { db, cleanup } = await tempDatabase();
  try {
    const anonymous = (timeMs: number, device: string | null): MeterEvent => ({
      ...demand(null, timeMs, 10),
      device,
    });
    const keys: string[] = [];
    const keyed = new IngestWriter(db, {
      onCommit: (events) => keys.push(...events.map((e) => e.meterKey)),
    });
    keyed.add(PORT, anonymous(T0, null), T0);
    keyed.add(PORT, anonymous(T0 + 1, DEVICE), T0);
    keyed.add(PORT, meterList([METER_A, METER_B]), T0); // ambiguous: still no known meter
    keyed.add(PORT, anonymous(T0 + 2, DEVICE), T0);
    keyed.add(PORT, connection(METER_B), T0);
    keyed.add(PORT, anonymous(T0 + 3, DEVICE), T0);
    keyed.add(PORT, demand(METER_A, T0 + 4, 10), T0);
    keyed.close();
    assert.deepEqual(keys, [PORT, DEVICE, DEVICE, DEVICE, METER_B, METER_B, METER_A]);
    // The known meter survives a restart.
    const restarted: string[] = [];
    const again = new IngestWriter(db, {
      onCommit: (events) => restarted.push(events[0].meterKey),
    });
    again.add(PORT, anonymous(T0 + 5, DEVICE), T0);
    again.close();
    assert.deepEqual(restarted, [METER_B]);
  } finally {
    await cleanup();
  }
});

Deno.test("onCommit runs after COMMIT with what committed, visible to a second connection", async () => {
  const { db, path, cleanup } = await tempDatabase();
  const reader = new DatabaseSync(path);
  try {
    const calls: { committed: StoredEvent[]; visible: number }[] = [];
    const writer = new IngestWriter(db, {
      onCommit: (committed) => {
        const { n } = reader.prepare("SELECT count(*) AS n FROM demand").get() as { n: number };
        calls.push({ committed, visible: n });
      },
    });
    writer.add(PORT, demand(METER_A, T0, 1), T0 + 10);
    writer.add(PORT, demand(METER_A, T0, 1), T0 + 20); // duplicate: not committed
    writer.add(PORT, demand(METER_A, T0 + 10_000, 2), T0 + 30);
    writer.flush();
    writer.flush(); // nothing queued: no call
    writer.close();
    assert.equal(calls.length, 1);
    assert.equal(calls[0].visible, 2);
    assert.deepEqual(calls[0].committed.map((stored) => [stored.meterKey, stored.receivedAtMs]), [
      [METER_A, T0 + 10],
      [METER_A, T0 + 30],
    ]);
  } finally {
    reader.close();
    await cleanup();
  }
});

Deno.test("an onCommit that throws does not break the writer", async () => {
  const { db, cleanup } = await tempDatabase();
  try {
    const errors: unknown[] = [];
    const writer = new IngestWriter(db, {
      onCommit: () => {
        throw new Error("subscriber bug");
      },
      onError: (error) => errors.push(error),
    });
    writer.add(PORT, demand(METER_A, T0, 1), T0);
    writer.flush();
    writer.add(PORT, demand(METER_A, T0 + 1000, 1), T0);
    writer.close();
    assert.equal(errors.length, 2);
    assert.equal(rowCount(db, "demand"), 2);
  } finally {
    await cleanup();
  }
});

Deno.test("bad values (NaN, Infinity, nulls, wrong types) neither throw nor corrupt", async () => {
  const { db, cleanup } = await tempDatabase();
  try {
    const writer = new IngestWriter(db);
    const bad: MeterEvent[] = [
      demand(METER_A, T0, NaN),
      demand(METER_A, T0 + 1000, null),
      demand(METER_A, NaN, Infinity),
      summation(METER_A, T0, NaN, NaN),
      summation(METER_A, T0 + 1000, 500, null),
      price(METER_A, T0, NaN),
      { ...message(METER_A, T0, "0x01"), text: 42 as unknown as string },
      { ...connection(null), status: null as unknown as string, channel: NaN },
      { ...time(METER_A, T0), utcTimeMs: -Infinity },
      { kind: "unknown" as const, fragment: "DebugTable", device: null, meter: null, timeMs: null },
      null as unknown as MeterEvent,
      { kind: 7 } as unknown as MeterEvent,
    ];
    for (const event of bad) writer.add(PORT, event, T0 + 5);
    writer.add(PORT, demand(METER_A, T0 + 2000, 700), NaN);
    const stats = writer.flush();
    writer.close();
    assert.equal(stats.invalid, 3); // the NaN summation and the two non-events
    const integrity = db.prepare("PRAGMA integrity_check").get() as { integrity_check: string };
    assert.equal(integrity.integrity_check, "ok");
    const demandW = db.prepare(
      "SELECT demand_w AS w FROM demand WHERE meter_key = ? ORDER BY ts_ms",
    )
      .all(METER_A).map((row) => row.w);
    assert.deepEqual(demandW, [null, null, null, 700]); // NaN and ±Infinity become NULL
    const [bucket] = demandSeries(db, {
      meterKey: METER_A,
      fromMs: T0,
      toMs: T0 + HOUR_MS,
      bucketMinutes: 15,
    });
    assert.equal(bucket.samples, 1); // invalid samples stay out of the rollup
    assert.equal(rowCount(db, "summation"), 1);
    assert.equal(latestReadings(db, METER_A).messages[0].text, "");
  } finally {
    await cleanup();
  }
});

Deno.test("the timer flushes within flushIntervalMs; maxBatch flushes at once", async () => {
  const { db, cleanup } = await tempDatabase();
  try {
    const commits: number[] = [];
    const writer = new IngestWriter(db, {
      flushIntervalMs: 50,
      maxBatch: 3,
      onCommit: (committed) => commits.push(committed.length),
    });
    writer.add(PORT, demand(METER_A, T0, 1), T0);
    assert.equal(rowCount(db, "demand"), 0);
    await new Promise((resolve) => setTimeout(resolve, 120));
    assert.equal(rowCount(db, "demand"), 1);
    writer.add(PORT, demand(METER_A, T0 + 1000, 1), T0);
    writer.add(PORT, demand(METER_A, T0 + 2000, 1), T0);
    writer.add(PORT, demand(METER_A, T0 + 3000, 1), T0); // third queued: flushes now
    assert.equal(rowCount(db, "demand"), 4);
    writer.close();
    assert.deepEqual(commits, [1, 3]);
    assert.throws(() => writer.add(PORT, demand(METER_A, T0, 1), T0), /closed/);
    assert.throws(() => new IngestWriter(db, { flushIntervalMs: 1500 }), RangeError);
  } finally {
    await cleanup();
  }
});

Deno.test("a flush of 5000 demand events runs at ≥ 100 000 events/s", async () => {
  const { db, cleanup } = await tempDatabase();
  try {
    const writer = new IngestWriter(db, { maxBatch: 10_000 });
    let bestRate = 0;
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 5000; i++) {
        const timeMs = T0 + (round * 5000 + i) * 1000;
        writer.add(PORT, demand(i % 2 ? METER_A : METER_B, timeMs, 1000 + (i % 700)), timeMs);
      }
      const stats = writer.flush();
      assert.equal(stats.stored, 5000);
      bestRate = Math.max(bestRate, 5000 / (stats.elapsedMs / 1000));
    }
    writer.close();
    console.log(`flush rate: ${Math.round(bestRate)} demand events/s (best of 5 × 5000)`);
    assert.ok(bestRate >= 100_000, `${Math.round(bestRate)} events/s`);
  } finally {
    await cleanup();
  }
});
