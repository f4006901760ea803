/**
 * End to end through the real parts: a device on a pseudo-terminal master → libserialport on the
 * slave (adopted fd) → framing → decoding → link supervisor → SQLite file. Covers the simulated
 * meter, commands read back on the device side, unplug/replug, a garbage flood and boundedness
 * over a simulated week.
 *
 * @module
 */

import { referenceFolder } from "../reference.ts";
import assert from "node:assert/strict";
import type { DatabaseSync } from "node:sqlite";
import { PseudoTerminal } from "../../ffi/libc.ts";
import { SerialPort } from "../../ffi/libserialport.ts";
import { startGateway } from "../../src/gateway.ts";
import { LiveBus } from "../../src/live/bus.ts";
import type { LinkState } from "../../src/radio/events.ts";
import { startSimulatedMeter } from "../../src/sim/device.ts";
import { createHousehold, createRandom } from "../../src/sim/household.ts";
import { openSources, type PortSource, simulatedMacs } from "../../src/sources.ts";
import { openDatabase } from "../../src/store/db.ts";
import { countRows, demandFragment, ScriptedPort, waitFor } from "./helpers.ts";

const DAY_MS = 86_400_000;
const METER = "0x0013500100e2e001";

async function tempDb(): Promise<{ path: string; db: DatabaseSync; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "openseg-e2e-" });
  const path = `${dir}/gateway.db`;
  return { path, db: openDatabase(path), dir };
}

function simulatedSource(options: { speed: number; startTimeMs: number; seed: number }) {
  const pty = PseudoTerminal.open();
  const householdOptions = { seed: options.seed, solar: true, startTimeMs: options.startTimeMs };
  const meter = startSimulatedMeter({
    transport: pty,
    deviceMac: "0xd8d5b9000000e2e0",
    meterMac: METER,
    household: createHousehold(householdOptions),
    speed: options.speed,
    startTimeMs: options.startTimeMs,
  });
  const source: PortSource = {
    port: "sim:e2e",
    open: () => SerialPort.adoptFd(pty.openSlaveFd(), pty.slavePath),
    stop: async () => {
      await pty.close();
      await meter.stop();
    },
  };
  return { source, meter, twin: createHousehold(householdOptions) };
}

Deno.test("simulated meter → libserialport → framing → store, and commands reach the device", async () => {
  const { db, dir } = await tempDb();
  const startTimeMs = Date.UTC(2025, 5, 21, 10);
  const { source, meter, twin } = simulatedSource({ speed: 600, startTimeMs, seed: 7 });
  const states: LinkState[] = [];
  const bus = new LiveBus();
  const live = bus.subscribe({ filter: (e) => e.type === "stored" && e.event.kind === "demand" });
  const gateway = startGateway({
    db,
    ports: [source],
    retentionHours: 48,
    intervalMinutes: 5,
    pollSeconds: 3600,
    onLinkState: (_port, state) => states.push(state),
    bus,
  });
  try {
    // Live subscribers hear of a reading only once it is committed: a query then finds it.
    const first = (await live.next()).value!;
    assert.ok(first.type === "stored" && first.event.timeMs !== null);
    const committed = db.prepare("SELECT demand_w FROM demand WHERE meter_key = ? AND ts_ms = ?")
      .get(METER, first.event.timeMs) as { demand_w: number } | undefined;
    assert.equal(committed?.demand_w, first.event.kind === "demand" ? first.event.demandW : NaN);
    live.close();
    await waitFor("30 demand rows", () => countRows(db, "demand", METER) >= 30);
    await waitFor("a summation row", () => countRows(db, "summation", METER) >= 2);
    await waitFor("device info", () => countRows(db, "devices") === 1);
  } finally {
    await gateway.stop();
  }
  assert.deepEqual(states.slice(0, 3), ["connecting", "initializing", "connected"]);
  assert.equal(states.at(-1), "closed");

  // Every stored demand equals what the household drew at that meter time.
  const rows = db.prepare("SELECT ts_ms, received_ms, demand_w FROM demand WHERE meter_key = ?")
    .all(METER) as { ts_ms: number; received_ms: number; demand_w: number }[];
  for (const row of rows) {
    assert.equal(row.demand_w, twin.demandW(row.ts_ms), `demand at ${row.ts_ms}`);
    assert.ok(row.received_ms > 0);
  }
  const summations = db.prepare(
    "SELECT ts_ms, delivered_wh, received_wh FROM summation WHERE meter_key = ? ORDER BY ts_ms",
  ).all(METER) as { ts_ms: number; delivered_wh: number; received_wh: number }[];
  for (const row of summations) {
    const registers = twin.advanceTo(row.ts_ms);
    // The stick reports whole Wh counts.
    assert.equal(row.delivered_wh, Math.floor(registers.summationDeliveredWh));
    assert.equal(row.received_wh, Math.floor(registers.summationReceivedWh));
  }

  // The commands the gateway sent were read on the device side of the pseudo-terminal.
  const sent = meter.receivedCommands.map((c) => c.name);
  for (const name of ["initialize", "getDeviceInfo", "getMeterList", "getConnectionStatus"]) {
    assert.ok(sent.includes(name as never), `device received ${name}: ${sent.join(",")}`);
  }
  assert.ok(sent.indexOf("initialize") < sent.indexOf("getDeviceInfo"));
  db.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("unplug and replug: disconnected, reconnected, nothing lost or duplicated", async () => {
  const { db, dir } = await tempDb();
  const device = new ScriptedPort();
  const states: LinkState[] = [];
  const gateway = startGateway({
    db,
    ports: [device.source],
    retentionHours: 48,
    intervalMinutes: 5,
    pollSeconds: 3600,
    onLinkState: (_port, state) => states.push(state),
  });
  const t0 = Date.UTC(2025, 0, 1);
  const fragment = (i: number) => demandFragment(METER, t0 + i * 8000, 1000 + i);
  try {
    for (let i = 0; i < 50; i++) await device.write(fragment(i));
    await waitFor("50 rows before unplug", () => countRows(db, "demand") === 50);

    await device.unplug();
    await waitFor("disconnected", () => states.includes("disconnected"));
    // Unplugged for a while: the supervisor keeps retrying, the port is not there.
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(gateway.supervisors[0].state === "connected", false);

    device.replug();
    await waitFor("reconnected", () => gateway.supervisors[0].reconnects === 1, 8000);
    // The stick resends what it last had (overlap) and carries on.
    for (let i = 40; i < 100; i++) await device.write(fragment(i));
    await waitFor("100 rows after replug", () => countRows(db, "demand") === 100);
    await new Promise((resolve) => setTimeout(resolve, 400));
  } finally {
    await gateway.stop();
    await device.close();
  }
  const rows = db.prepare("SELECT ts_ms, demand_w FROM demand ORDER BY ts_ms").all() as {
    ts_ms: number;
    demand_w: number;
  }[];
  assert.equal(rows.length, 100);
  rows.forEach((row, i) => {
    assert.equal(row.ts_ms, t0 + i * 8000);
    assert.equal(row.demand_w, 1000 + i);
  });
  assert.ok(states.indexOf("disconnected") < states.lastIndexOf("connected"));
  assert.equal(device.opens, 2);
  db.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("1 MB of random garbage between valid fragments: every fragment stored", async () => {
  const { db, dir } = await tempDb();
  const device = new ScriptedPort();
  const gateway = startGateway({
    db,
    ports: [device.source],
    retentionHours: 48,
    intervalMinutes: 5,
    pollSeconds: 3600,
  });
  const random = createRandom(2024);
  const fragments = 400;
  const garbageBytes = 1 << 20;
  const t0 = Date.UTC(2025, 2, 1);
  const encoder = new TextEncoder();
  const heapBefore = Deno.memoryUsage().heapUsed;
  let droppedBytes = 0;
  try {
    await waitFor("link up", () => gateway.supervisors[0].state === "initializing");
    for (let i = 0; i < fragments; i++) {
      const garbage = new Uint8Array(garbageBytes / fragments);
      for (let b = 0; b < garbage.length; b++) garbage[b] = Math.floor(random() * 256);
      // Real sticks end lines with CR LF; a fragment starts on a fresh line after noise.
      const valid = encoder.encode("\r\n" + demandFragment(METER, t0 + i * 8000, -500 + i));
      const stream = new Uint8Array(garbage.length + valid.length);
      stream.set(garbage);
      stream.set(valid, garbage.length);
      // Random chunking, so fragments straddle reads.
      for (let offset = 0; offset < stream.length;) {
        const size = 1 + Math.floor(random() * 700);
        await device.master.write(stream.subarray(offset, offset + size));
        offset += size;
      }
    }
    await waitFor(`${fragments} rows`, () => countRows(db, "demand") === fragments, 20_000);
    droppedBytes = gateway.supervisors[0].adapterStats?.droppedBytes ?? 0;
  } finally {
    await gateway.stop();
    await device.close();
  }
  const values = db.prepare("SELECT demand_w FROM demand ORDER BY ts_ms").all() as {
    demand_w: number;
  }[];
  assert.deepEqual(values.map((v) => v.demand_w), [...Array(fragments).keys()].map((i) => i - 500));
  // Garbage is counted, not silently swallowed, and memory did not grow with the flood.
  assert.ok(droppedBytes > garbageBytes / 2, `dropped ${droppedBytes} bytes of garbage`);
  const heapGrowthBytes = Deno.memoryUsage().heapUsed - heapBefore;
  assert.ok(heapGrowthBytes < 64 * 1024 * 1024, `heap grew ${heapGrowthBytes} bytes`);
  db.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a simulated week at high speed: rows and file size flat from day 2, span ≤ retention", async () => {
  const { db, path, dir } = await tempDb();
  const startTimeMs = Date.UTC(2025, 6, 1);
  const { source } = simulatedSource({ speed: 2_000_000, startTimeMs, seed: 3 });
  const gateway = startGateway({
    db,
    ports: [source],
    retentionHours: 48,
    intervalMinutes: 5,
    pollSeconds: 3600,
  });
  const tables = ["demand", "summation", "intervals", "demand_rollup", "prices"];
  const perDay: { day: number; rows: number[]; bytes: number }[] = [];
  try {
    for (let day = 2; day <= 7; day++) {
      // Sample by what the store holds (not the device clock), so load cannot skew the days.
      const dayEndMs = startTimeMs + day * DAY_MS;
      const newestStoredMs = () =>
        Number(
          db.prepare("SELECT max(ts_ms) AS newest FROM demand WHERE meter_key = ?").get(METER)
            ?.newest ?? 0,
        );
      await waitFor(`sim day ${day}`, () => newestStoredMs() >= dayEndMs, 60_000);
      gateway.writer.flush();
      db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      perDay.push({
        day,
        rows: tables.map((table) => countRows(db, table, METER)),
        bytes: (await Deno.stat(path)).size,
      });
    }
  } finally {
    await gateway.stop();
  }
  const [day2, ...later] = perDay;
  for (const sample of later) {
    sample.rows.forEach((rows, i) => {
      const reference = day2.rows[i];
      assert.ok(
        Math.abs(rows - reference) <= Math.max(3, reference * 0.03),
        `${tables[i]} on day ${sample.day}: ${rows} rows vs ${reference} on day 2`,
      );
    });
    assert.ok(
      sample.bytes <= day2.bytes * 1.25,
      `file on day ${sample.day}: ${sample.bytes} bytes vs ${day2.bytes} on day 2`,
    );
  }
  const span = db.prepare(
    "SELECT max(ts_ms) - min(ts_ms) AS spanMs FROM demand WHERE meter_key = ?",
  ).get(METER) as { spanMs: number };
  assert.ok(span.spanMs <= 48 * 3_600_000, `span ${span.spanMs} ms`);
  assert.ok(span.spanMs >= 47 * 3_600_000, `span ${span.spanMs} ms covers the ring`);
  db.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("serve sources: two simulated meters, and a capture replayed byte for byte", async () => {
  const { db, dir } = await tempDb();
  const capture = new URL("emu2-fragments-roachwork.txt", referenceFolder("raven/")).pathname;
  const ports = [
    ...await openSources({
      kind: "simulate",
      meters: 2,
      speed: 600,
      solar: false,
      backfillHours: 0,
    }),
    ...await openSources({ kind: "replay", file: capture }),
  ];
  assert.deepEqual(ports.map((p) => p.port), ["sim:0", "sim:1", `replay:${capture}`]);
  const gateway = startGateway({
    db,
    ports,
    retentionHours: 48,
    intervalMinutes: 5,
    pollSeconds: 3600,
  });
  const meters = [0, 1].map((i) => simulatedMacs(i).meterMac);
  const replayedMeter = "0x00078100007a175d";
  try {
    await waitFor(
      "both simulated meters",
      () => meters.every((m) => countRows(db, "demand", m) > 5),
    );
    await waitFor("the replayed demand", () => countRows(db, "demand", replayedMeter) === 1);
  } finally {
    await gateway.stop();
  }
  const replayed = db.prepare("SELECT ts_ms, demand_w FROM demand WHERE meter_key = ?")
    .get(replayedMeter) as { ts_ms: number; demand_w: number };
  assert.equal(replayed.demand_w, 1197);
  assert.equal(new Date(replayed.ts_ms).toISOString(), "2024-04-22T06:00:02.000Z");
  db.close();
  await Deno.remove(dir, { recursive: true });
});
