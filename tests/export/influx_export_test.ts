/**
 * Database export into a real InfluxDB (Debian's 1.6, authentication on):
 *
 * - v1 API: the server is killed mid-stream while simulated meters keep producing, then started
 *   again; every interval the store completed is one point with the store's values (a re-sent
 *   point overwrites itself: same series and timestamp);
 * - v2 API, through `influx_v2_front.ts` (InfluxDB 1.6 has no v2 API): a revoked token, then an
 *   outage of the endpoint; every interval arrives, each meter's oldest first; a missing bucket;
 * - each failure kind is one clear log line however often it is retried: unreachable, refused
 *   login, missing database, a measurement whose fields have other types; fixing the cause resumes
 *   the export.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { DatabaseSync } from "node:sqlite";
import { startDatabaseExports } from "../../src/export/db_export.ts";
import { type InfluxTarget, parseExportUrl } from "../../src/config/db_targets.ts";
import { influxSink } from "../../src/export/influx_sink.ts";
import { LiveBus } from "../../src/live/bus.ts";
import { simulatedMacs } from "../../src/sources.ts";
import { openDatabase } from "../../src/store/db.ts";
import { gatewayIdFor } from "../../src/store/gateway_identity.ts";
import { usagePointIdFor } from "../../src/store/usage_points.ts";
import { freePort } from "./broker.ts";
import { countingSink, keptLog, storedIntervals } from "./db_export_helpers.ts";
import { simulatedGateway, waitFor } from "./fixtures.ts";
import { type InfluxServer, startInflux } from "./influx_server.ts";
import { startV2Front } from "./influx_v2_front.ts";
import { fillRing, ringMeter } from "./ring_fixture.ts";

const WRITER = { user: "openseg", password: "writer-secret" };

/** Creates `energy` and a login that may only write to it. */
async function prepare(influx: InfluxServer): Promise<void> {
  await influx.query('CREATE DATABASE "energy"');
  await influx.query(`CREATE USER "${WRITER.user}" WITH PASSWORD '${WRITER.password}'`);
  await influx.query(`GRANT WRITE ON "energy" TO "${WRITER.user}"`);
}

/** Asserts the measurement holds exactly the store's complete intervals of each meter. */
async function assertHoldsStore(
  influx: InfluxServer,
  db: DatabaseSync,
  meterKeys: string[],
): Promise<void> {
  const points = await influx.rows("energy", "openseg_interval");
  const gatewayId = gatewayIdFor(db);
  let expected = 0;
  for (const meterKey of meterKeys) {
    const meterId = usagePointIdFor(db, meterKey);
    const stored = storedIntervals(db, meterKey);
    expected += stored.length;
    // InfluxDB returns a series sorted by time: one point per interval, never two.
    assert.deepEqual(
      points.filter((point) => point.meter === meterId).map((point) => [
        point.time,
        point.duration_s,
        point.delivered_wh,
        point.received_wh,
        point.quality,
        point.gateway,
      ]),
      stored.map((s) => [
        s.startMs,
        String(s.durationS),
        s.deliveredWh,
        s.receivedWh,
        s.quality,
        gatewayId,
      ]),
      `meter ${meterKey}`,
    );
  }
  assert.equal(points.length, expected);
}

Deno.test("influxdb v1: killed mid-stream and back, every interval once", async () => {
  const influx = await startInflux();
  await prepare(influx);
  const sim = await simulatedGateway({ meters: 2, speed: 600, intervalMinutes: 1 });
  const log = keptLog();
  const url = `influxdb://${WRITER.user}:${WRITER.password}@127.0.0.1:${influx.port}/energy`;
  const exports = startDatabaseExports({
    db: sim.db,
    bus: sim.bus,
    targets: [parseExportUrl(url)],
    log,
    retryMs: 100,
  });
  const [exporter] = exports.exporters;
  try {
    await waitFor("20 intervals written", () => exporter.status().intervalsSent >= 20, 15_000);
    await influx.stop();
    await waitFor("the failure noticed", () => exporter.status().healthy === false, 10_000);
    await waitFor("a backlog of 40", () => exporter.backlogIntervals() >= 40, 15_000);
    await influx.start();
    await sim.stop();
    await waitFor("backlog drained", () => exporter.backlogIntervals() === 0, 15_000);

    const unreachable = log.warnings.filter((line) => line.includes("cannot reach InfluxDB"));
    assert.equal(unreachable.length, 1, log.warnings.join("\n"));
    assert.ok(!unreachable[0].includes(WRITER.password), "no password in the log");
    await assertHoldsStore(influx, sim.db, [0, 1].map((i) => simulatedMacs(i).meterMac));
  } finally {
    await exports.stop();
    await sim.close();
    await influx.close();
  }
});

Deno.test("influxdb v2 API: revoked token, endpoint down, every interval in order", async () => {
  const influx = await startInflux();
  await prepare(influx);
  const front = startV2Front(influx, { org: "home", token: "revoked" });
  const dir = await Deno.makeTempDir({ prefix: "openseg-influx-v2-" });
  const db = openDatabase(`${dir}/gateway.db`);
  fillRing(db, { meters: 2, minutes: 6 * 60, intervalMinutes: 1 });
  const log = keptLog();
  const target = parseExportUrl(`influxdb2://s3cr3t-token@${front.host}/home/energy`);
  const sink = countingSink(influxSink(target as InfluxTarget));
  const exports = startDatabaseExports({
    db,
    bus: new LiveBus(),
    targets: [target],
    log,
    retryMs: 50,
    batchSize: 100,
    sinkFor: () => sink,
  });
  const [exporter] = exports.exporters;
  try {
    await waitFor("3 refused attempts", () => sink.attempts() >= 3);
    assert.equal(log.warnings.length, 1, log.warnings.join("\n"));
    assert.match(log.warnings[0], /refused the login \(401\): unauthorized access/);
    assert.ok(!log.warnings[0].includes("s3cr3t"), log.warnings[0]);

    // The endpoint goes away after three more batches, mid-backlog.
    front.stopAfter(3);
    front.setToken("s3cr3t-token");
    await waitFor(
      "the outage noticed",
      () => exporter.status().intervalsSent > 0 && exporter.status().healthy === false,
    );
    const sent = exporter.status().intervalsSent;
    assert.ok(sent >= 300, `${sent} written before the outage`);
    assert.ok(exporter.backlogIntervals() > 0, "the outage came mid-backlog");
    front.start();
    await waitFor("backlog drained", () => exporter.backlogIntervals() === 0);
    assert.ok(exporter.status().intervalsSent > sent);
    assert.equal(log.warnings.length, 2, log.warnings.join("\n"));
    assert.match(log.warnings[1], /cannot reach InfluxDB/);

    await assertHoldsStore(influx, db, [ringMeter(0), ringMeter(1)]);
    // Arrival order per meter: oldest first.
    for (const meter of [0, 1]) {
      const meterId = usagePointIdFor(db, ringMeter(meter));
      const times = front.lines.filter((line) => line.includes(`,meter=${meterId},`))
        .map((line) => Number(line.split(" ").at(-1)));
      assert.deepEqual(times, [...times].sort((a, b) => a - b), `meter ${meter}`);
      assert.equal(times.length, storedIntervals(db, ringMeter(meter)).length);
    }

    // A bucket that does not exist: one clear line.
    const missingLog = keptLog();
    const missing = startDatabaseExports({
      db,
      bus: new LiveBus(),
      targets: [parseExportUrl(`influxdb2://s3cr3t-token@${front.host}/home/nope`)],
      log: missingLog,
      retryMs: 50,
    });
    await waitFor("the failure", () => missing.exporters[0].status().healthy === false);
    await missing.stop();
    assert.equal(missingLog.warnings.length, 1, missingLog.warnings.join("\n"));
    assert.match(missingLog.warnings[0], /bucket 'nope' does not exist/);
  } finally {
    await exports.stop();
    await front.stop();
    db.close();
    await Deno.remove(dir, { recursive: true });
    await influx.close();
  }
});

Deno.test("influxdb: one log line per failure kind, and the export resumes once fixed", async (t) => {
  const influx = await startInflux();
  await prepare(influx);
  const dir = await Deno.makeTempDir({ prefix: "openseg-influx-failures-" });
  const db = openDatabase(`${dir}/gateway.db`);
  fillRing(db, { meters: 2, minutes: 60, intervalMinutes: 5 });
  const base = `${WRITER.user}:${WRITER.password}@127.0.0.1:${influx.port}`;

  const failing = async (url: string) => {
    db.prepare("DELETE FROM export_cursors").run();
    const log = keptLog();
    const target = parseExportUrl(url);
    const sink = countingSink(influxSink(target as InfluxTarget));
    const exports = startDatabaseExports({
      db,
      bus: new LiveBus(),
      targets: [target],
      log,
      retryMs: 20,
      sinkFor: () => sink,
    });
    await waitFor("3 attempts", () => sink.attempts() >= 3);
    assert.equal(exports.exporters[0].status().intervalsSent, 0);
    assert.equal(log.warnings.length, 1, log.warnings.join("\n"));
    return { log, exports };
  };

  try {
    await t.step("unreachable", async () => {
      const { log, exports } = await failing(`influxdb://127.0.0.1:${freePort()}/energy`);
      await exports.stop();
      assert.match(log.warnings[0], /cannot reach InfluxDB at influxdb:\/\/127\.0\.0\.1:\d+/);
    });

    await t.step("refused login", async () => {
      const { log, exports } = await failing(
        `influxdb://${WRITER.user}:wrong@127.0.0.1:${influx.port}/energy`,
      );
      await exports.stop();
      assert.match(log.warnings[0], /refused the login \(401\): authorization failed/);
      assert.ok(!log.warnings[0].includes("wrong"));
    });

    await t.step("missing database", async () => {
      const { log, exports } = await failing(`influxdb://${base}/nope`);
      await exports.stop();
      assert.match(log.warnings[0], /database 'nope' does not exist/);
    });

    await t.step("v2 URL against InfluxDB 1.6", async () => {
      const { log, exports } = await failing(
        `influxdb2://${WRITER.user}:${WRITER.password}@127.0.0.1:${influx.port}/home/energy`,
      );
      await exports.stop();
      assert.match(
        log.warnings[0],
        /has no v2 write API .*InfluxDB before 1\.8 needs influxdb:\/\//,
      );
    });

    await t.step("fields of another type, then the measurement is dropped", async () => {
      // Someone else wrote the measurement with an integer field (field types are per shard:
      // a recent time puts it in the shard of the readings).
      const write = await fetch(`${influx.baseUrl}/write?db=energy&precision=ms`, {
        method: "POST",
        headers: { authorization: `Basic ${btoa(`${WRITER.user}:${WRITER.password}`)}` },
        body: `openseg_interval,meter=x delivered_wh=1i ${Date.now()}`,
      });
      assert.equal(write.status, 204, await write.text());
      const { log, exports } = await failing(`influxdb://${base}/energy`);
      assert.match(
        log.warnings[0],
        /measurement openseg_interval in database 'energy' does not match what openseg writes: .*field type conflict/,
      );
      await influx.query('DROP MEASUREMENT "openseg_interval"', "energy");
      await waitFor("drained", () => exports.exporters[0].backlogIntervals() === 0);
      await exports.stop();
      assert.ok(log.infos.some((line) => line.endsWith("writing again")));
      await assertHoldsStore(influx, db, [ringMeter(0), ringMeter(1)]);
    });
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
    await influx.close();
  }
});
