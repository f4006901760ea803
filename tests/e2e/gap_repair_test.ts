/**
 * Gap repair end to end over real pseudo-terminals: the simulated meter keeps running while the
 * gateway is stopped for two simulated hours (its pushes are lost, as with a stopped gateway or an
 * unplugged stick); a new gateway on the same database finds the estimated intervals across the
 * gap, asks the meter with `get_profile_data`, and stores the meter's own values. A meter that does
 * not support the command leaves them estimated, with one warning.
 *
 * @module
 */

import { createLogger } from "../../src/log.ts";
import assert from "node:assert/strict";
import type { DatabaseSync } from "node:sqlite";
import { closeFd, PseudoTerminal } from "../../ffi/libc.ts";
import { SerialPort } from "../../ffi/libserialport.ts";
import { MQTT_SINK, startMqttExport } from "../../src/export/mqtt.ts";
import { startGateway } from "../../src/gateway.ts";
import { LiveBus } from "../../src/live/bus.ts";
import type { ProfileSupport } from "../../src/sim/profile_answer.ts";
import { startSimulatedMeter } from "../../src/sim/device.ts";
import { createHousehold, type HouseholdOptions } from "../../src/sim/household.ts";
import type { PortSource } from "../../src/sources.ts";
import { openDatabase } from "../../src/store/db.ts";
import { QUALITY_CODES } from "../../src/store/migrations.ts";
import { startBroker, subscriber } from "../export/broker.ts";
import { waitFor } from "./helpers.ts";

const METER = "0x0013500100e2e0a1";
const HOUR_MS = 3_600_000;
const INTERVAL_MS = 300_000;
/** One simulated hour per wall second: a two-hour outage takes two seconds. */
const SPEED = 3600;

interface IntervalRow {
  start_ms: number;
  delivered_wh: number;
  received_wh: number;
  quality: number;
  source: number;
}

/** A simulated meter on a pty, and a port the gateway can open again after a restart. */
function simulatedMeter(profileSupport: ProfileSupport) {
  const startTimeMs = Date.UTC(2025, 5, 21, 9);
  const householdOptions: HouseholdOptions = { seed: 11, solar: true, startTimeMs, intervalS: 300 };
  const pty = PseudoTerminal.open();
  const meter = startSimulatedMeter({
    transport: pty,
    deviceMac: "0xd8d5b9000000e0a1",
    meterMac: METER,
    household: createHousehold(householdOptions),
    speed: SPEED,
    startTimeMs,
    profileSupport,
  });
  // Held open so the device sees no hang-up while the gateway is stopped: it runs on, as a meter
  // does, and only its pushes are lost (`setLinkUp`).
  const heldFd = pty.openSlaveFd();
  const source: PortSource = {
    port: "sim:gap",
    open: () => SerialPort.adoptFd(pty.openSlaveFd(), pty.slavePath),
  };
  const close = async () => {
    closeFd(heldFd);
    await pty.close();
    await meter.stop();
  };
  return { meter, source, close, twin: createHousehold(householdOptions) };
}

function gatewayOn(
  db: DatabaseSync,
  source: PortSource,
  logs: string[],
  more: { bus?: LiveBus; recheckMs?: number } = {},
) {
  return startGateway({
    bus: more.bus,
    db,
    ports: [source],
    retentionHours: 48,
    intervalMinutes: 5,
    pollSeconds: 3600,
    log: createLogger({
      format: "text",
      level: "info",
      write: (line, level) => logs.push(`${level} ${line}`),
    }),
    // Fast pacing for the test; the defaults (1 s apart) are measured in docs/gap_repair.md.
    gapRepair: { pauseMs: 20, replyTimeoutMs: 1000, settleMs: 50, recheckMs: more.recheckMs },
  });
}

function intervals(db: DatabaseSync): IntervalRow[] {
  return db.prepare(
    `SELECT start_ms, delivered_wh, received_wh, quality, source FROM intervals
     WHERE meter_key = ? ORDER BY start_ms`,
  ).all(METER) as unknown as IntervalRow[];
}

function newestSummationMs(db: DatabaseSync): number {
  const row = db.prepare("SELECT max(ts_ms) AS ms FROM summation WHERE meter_key = ?").get(METER);
  return Number(row?.ms ?? 0);
}

function warningCount(db: DatabaseSync, kind: string): number {
  const row = db.prepare("SELECT sum(count) AS n FROM warnings WHERE meter_key = ? AND kind = ?")
    .get(METER, kind);
  return Number(row?.n ?? 0);
}

/**
 * Runs a gateway until 30 simulated minutes are stored, stops it for two simulated hours while the
 * meter runs on, and starts a second gateway on the same database. Returns the outage's span.
 */
async function outage(
  db: DatabaseSync,
  sim: ReturnType<typeof simulatedMeter>,
  logs: string[],
) {
  const first = gatewayOn(db, sim.source, logs);
  let outageFromMs: number;
  try {
    await waitFor("30 minutes stored", () => {
      const newest = newestSummationMs(db);
      return newest > 0 && intervals(db).length >= 6;
    });
  } finally {
    sim.meter.setLinkUp(false);
    await first.stop();
    outageFromMs = newestSummationMs(db);
  }
  await waitFor("two hours of outage", () => sim.meter.simTimeMs > outageFromMs + 2 * HOUR_MS);
  sim.meter.setLinkUp(true);
  const second = gatewayOn(db, sim.source, logs);
  // The first reading after the outage closes the gap: estimated intervals across it.
  await waitFor(
    "a reading after the outage",
    () => newestSummationMs(db) > outageFromMs + 2 * HOUR_MS,
  );
  return { second, outageFromMs, outageToMs: outageFromMs + 2 * HOUR_MS };
}

Deno.test("after a 2-hour outage every interval the meter holds is repaired with its own values", async () => {
  const dir = await Deno.makeTempDir({ prefix: "openseg-gap-" });
  const db = openDatabase(`${dir}/gateway.db`);
  const sim = simulatedMeter("full");
  const logs: string[] = [];
  const { second, outageFromMs, outageToMs } = await outage(db, sim, logs);
  try {
    await waitFor(
      "no estimated interval left",
      () =>
        intervals(db).filter((row) => row.quality !== QUALITY_CODES.valid).length === 0 &&
        intervals(db).some((row) => row.start_ms > outageToMs + INTERVAL_MS),
    );
  } finally {
    await second.stop();
    await sim.close();
  }
  const rows = intervals(db);
  const repaired = rows.filter((row) => row.source === 1);
  // Every 5-minute interval the outage touched came from the meter.
  const touched = rows.filter((row) =>
    row.start_ms + INTERVAL_MS > outageFromMs && row.start_ms < outageToMs
  );
  assert.ok(touched.length >= 24, `${touched.length} intervals in the outage`);
  assert.deepEqual(touched.filter((row) => row.source !== 1), []);
  // ... and equal what the household used (whole Wh, as the meter's interval channel counts).
  sim.twin.advanceTo(sim.meter.simTimeMs);
  const truth = new Map(
    sim.twin.intervals({ count: 10_000 }).map((r) => [r.endTimeMs - INTERVAL_MS, r]),
  );
  for (const row of repaired) {
    const expected = truth.get(row.start_ms);
    assert.ok(expected, `the household has an interval at ${row.start_ms}`);
    assert.equal(row.delivered_wh, expected.deliveredWh, `delivered at ${row.start_ms}`);
    assert.equal(row.received_wh, expected.receivedWh, `received at ${row.start_ms}`);
    assert.equal(row.quality, QUALITY_CODES.valid);
  }
  // Oldest first, at most 12 periods a request, one request at a time.
  const asks = sim.meter.receivedCommands.filter((c) => c.name === "getProfileData");
  const ends = asks.filter((c) => c.channel === "Delivered").map((c) => c.endTimeMs!);
  assert.deepEqual(ends, [...ends].sort((a, b) => a - b));
  assert.ok(asks.every((c) => c.numberOfPeriods >= 1 && c.numberOfPeriods <= 12));
  assert.ok(asks.length >= 2 * Math.ceil(touched.length / 12), `${asks.length} requests`);
  const stats = second.repairers[0].stats;
  assert.equal(stats.requests, asks.length);
  assert.equal(stats.repaired, repaired.length);
  assert.ok(stats.passes >= 1);
  assert.ok(
    logs.some((line) => line.startsWith("info") && line.includes("gap repair")),
    logs.join("\n"),
  );
  assert.deepEqual(logs.filter((line) => line.startsWith("warn")), []);
  db.close();
  await Deno.remove(dir, { recursive: true });
});

const UNSUPPORTED: [ProfileSupport, RegExp][] = [
  ["unsupported", /cannot repair gaps: Status 2 \(channel not supported\) for the Delivered/],
  ["unknownCommand", /cannot repair gaps: the radio answers "Unknown command"/],
];

for (const [support, why] of UNSUPPORTED) {
  Deno.test(`a meter without get_profile_data (${support}): intervals stay estimated, one warning says why`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "openseg-gap-" });
    const db = openDatabase(`${dir}/gateway.db`);
    const sim = simulatedMeter(support);
    const logs: string[] = [];
    const { second, outageFromMs, outageToMs } = await outage(db, sim, logs);
    try {
      await waitFor("the warning", () => warningCount(db, "profileUnsupported") > 0);
      // Another simulated hour of readings: passes keep running, the meter is not asked again.
      const atMs = sim.meter.simTimeMs;
      await waitFor("an hour more", () => newestSummationMs(db) > atMs + HOUR_MS);
    } finally {
      await second.stop();
      await sim.close();
    }
    const estimated = intervals(db).filter((row) =>
      row.start_ms + INTERVAL_MS > outageFromMs && row.start_ms < outageToMs
    );
    assert.ok(estimated.length >= 24);
    assert.ok(
      estimated.every((row) => row.quality === QUALITY_CODES.estimated && row.source === 0),
    );
    assert.equal(warningCount(db, "profileUnsupported"), 1);
    const warnings = logs.filter((line) => line.startsWith("warn"));
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(warnings[0], why);
    assert.equal(sim.meter.receivedCommands.filter((c) => c.name === "getProfileData").length, 1);
    db.close();
    await Deno.remove(dir, { recursive: true });
  });
}

Deno.test("a link lost for 2 hours: repaired intervals reach MQTT again under the same key", async () => {
  const broker = await startBroker();
  const { client, messages } = await subscriber(broker.url, "openseg/+/meter/+/interval");
  const dir = await Deno.makeTempDir({ prefix: "openseg-gap-" });
  const db = openDatabase(`${dir}/gateway.db`);
  const sim = simulatedMeter("full");
  const logs: string[] = [];
  const bus = new LiveBus();
  // No link event marks a meter that merely fell silent: the periodic recheck finds its gap.
  const gateway = gatewayOn(db, sim.source, logs, { bus, recheckMs: 200 });
  const exporter = startMqttExport({
    db,
    bus,
    config: {
      url: broker.url,
      username: null,
      password: null,
      caFile: null,
      clientId: null,
      prefix: "openseg",
    },
    softwareVersion: "0.0.0-test",
    reconnectPeriodMs: 200,
    log: (line) => logs.push(`mqtt ${line}`),
  });
  const bodies = () => messages.map((m) => JSON.parse(m.text) as Record<string, unknown>);
  try {
    await waitFor("intervals sent", () => bodies().length >= 6);
    sim.meter.setLinkUp(false);
    const lostMs = sim.meter.simTimeMs;
    await waitFor("two hours", () => sim.meter.simTimeMs > lostMs + 2 * HOUR_MS);
    sim.meter.setLinkUp(true);
    await waitFor(
      "estimated intervals sent",
      () => bodies().some((b) => b.quality === "estimated"),
    );
    await waitFor("repaired", () =>
      intervals(db).filter((row) => row.source === 1).length >= 24 &&
      intervals(db).every((row) => row.quality === QUALITY_CODES.valid));
    await waitFor("backlog drained", () => exporter.backlogIntervals() === 0);
    // Acknowledged by the broker is not yet delivered to the subscriber.
    await waitFor("repaired values received", () => {
      const last = lastByStart(bodies());
      return intervals(db).filter((row) => row.source === 1)
        .every((row) => last.get(row.start_ms)?.quality === "valid");
    });
  } finally {
    await exporter.stop();
    await gateway.stop();
    await sim.close();
    await client.endAsync();
    await broker.stop();
  }
  const repaired = intervals(db).filter((row) => row.source === 1);
  const byKey = Map.groupBy(bodies(), (b) => b.key as string);
  let resent = 0;
  for (const row of repaired) {
    const sent = [...byKey.values()].find((list) => list[0].startMs === row.start_ms);
    assert.ok(sent, `interval ${row.start_ms} was sent`);
    // Last under its key: the meter's values.
    const last = sent.at(-1)!;
    assert.equal(last.quality, "valid");
    assert.equal(last.deliveredWh, row.delivered_wh);
    assert.equal(last.receivedWh, row.received_wh);
    if (sent[0].quality === "estimated") resent++;
  }
  // Sent as estimated while the repair was under way, then again under the same key (all of
  // them, unless the repair beat the exporter to some).
  assert.ok(resent > 0 && resent >= repaired.length - 12, `${resent} of ${repaired.length}`);
  // The cursor moved on from where the repair had rewound it.
  assert.equal(rewoundCursors(db), 0);
  assert.deepEqual(logs.filter((line) => line.startsWith("warn")), []);
  db.close();
  await Deno.remove(dir, { recursive: true });
});

function rewoundCursors(db: DatabaseSync): number {
  const row = db.prepare(
    "SELECT count(*) AS n FROM export_cursors WHERE sink = ? AND meter_key = ? AND duration_s = 0",
  ).get(MQTT_SINK, METER);
  return Number(row?.n ?? 0);
}

/** The last message received for each interval, by start time. */
function lastByStart(bodies: Record<string, unknown>[]): Map<number, Record<string, unknown>> {
  return new Map(bodies.map((body) => [body.startMs as number, body]));
}
