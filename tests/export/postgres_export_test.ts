/**
 * Database export into a real PostgreSQL 15 (Debian's server on a throwaway cluster):
 *
 * - the server is stopped mid-stream while simulated meters keep producing, then started again;
 *   every interval the store completed is in the table exactly once, with the store's values,
 *   and was written oldest first per meter (`sent_at` never goes back along `start_time`);
 * - a re-sent interval (cursor rewound, value repaired) replaces its row;
 * - each failure kind is one clear log line however often it is retried: unreachable, refused
 *   login, missing database, a login that may not create the table, a table of another shape;
 *   fixing the cause resumes the export.
 *
 * @module
 */

import assert from "node:assert/strict";
import { startDatabaseExports } from "../../src/export/db_export.ts";
import { parseExportUrl, type PostgresTarget } from "../../src/config/db_targets.ts";
import { createTableSql, postgresSink } from "../../src/export/postgres_sink.ts";
import { settlesWithin } from "../../src/export/settles_within.ts";
import { LiveBus } from "../../src/live/bus.ts";
import { simulatedMacs } from "../../src/sources.ts";
import { openDatabase } from "../../src/store/db.ts";
import { gatewayIdFor } from "../../src/store/gateway_identity.ts";
import { usagePointIdFor } from "../../src/store/usage_points.ts";
import { freePort } from "./broker.ts";
import { countingSink, keptLog, storedIntervals } from "./db_export_helpers.ts";
import { simulatedGateway, waitFor } from "./fixtures.ts";
import { startPostgres } from "./postgres_server.ts";
import { fillRing, ringMeter } from "./ring_fixture.ts";

const WRITER = { user: "openseg", password: "writer-secret" };

interface TableRow {
  meter_id: string;
  start_ms: number;
  duration_s: number;
  delivered_wh: number;
  received_wh: number;
  quality: string;
  sent_ms: number;
}

const SELECT_ROWS = `SELECT meter_id, (extract(epoch FROM start_time) * 1000)::float8 AS start_ms,
  duration_s, delivered_wh, received_wh, quality,
  (extract(epoch FROM sent_at) * 1000)::float8 AS sent_ms
  FROM openseg_intervals ORDER BY meter_id, start_time`;

Deno.test("postgres: stopped mid-stream and back, every interval once, in order", async () => {
  const server = await startPostgres();
  await server.query(`CREATE ROLE ${WRITER.user} LOGIN PASSWORD '${WRITER.password}'`);
  await server.query(`CREATE DATABASE energy OWNER ${WRITER.user}`);
  const sim = await simulatedGateway({ meters: 2, speed: 600, intervalMinutes: 1 });
  const log = keptLog();
  const exports = startDatabaseExports({
    db: sim.db,
    bus: sim.bus,
    targets: [parseExportUrl(server.url({ ...WRITER, database: "energy" }))],
    log,
    retryMs: 100,
  });
  const [exporter] = exports.exporters;
  const count = async () =>
    Number(
      (await server.query<{ n: string }>(
        "SELECT count(*) AS n FROM openseg_intervals",
        [],
        "energy",
      ))[0].n,
    );
  try {
    await waitFor("20 intervals written", () => exporter.status().intervalsSent >= 20, 15_000);
    assert.ok(await count() >= 20);

    await server.stop();
    await waitFor("the failure noticed", () => exporter.status().healthy === false, 10_000);
    await waitFor("a backlog of 40", () => exporter.backlogIntervals() >= 40, 15_000);
    await server.start();
    await sim.stop();
    await waitFor("backlog drained", () => exporter.backlogIntervals() === 0, 15_000);

    const unreachable = log.warnings.filter((line) => line.includes("cannot reach PostgreSQL"));
    assert.equal(unreachable.length, 1, log.warnings.join("\n"));
    assert.ok(!unreachable[0].includes(WRITER.password), "no password in the log");
    assert.ok(log.infos.some((line) => line.endsWith("writing again")), log.infos.join("\n"));

    const rows = await server.query<TableRow>(SELECT_ROWS, [], "energy");
    for (const i of [0, 1]) {
      const meterKey = simulatedMacs(i).meterMac;
      const meterId = usagePointIdFor(sim.db, meterKey);
      const stored = storedIntervals(sim.db, meterKey);
      const written = rows.filter((row) => row.meter_id === meterId);
      assert.ok(stored.length >= 30, `meter ${i}: ${stored.length} intervals`);
      assert.deepEqual(
        written.map((row) => [
          row.start_ms,
          row.duration_s,
          row.delivered_wh,
          row.received_wh,
          row.quality,
        ]),
        stored.map((s) => [s.startMs, s.durationS, s.deliveredWh, s.receivedWh, s.quality]),
        `meter ${i}: every interval exactly once`,
      );
      // Oldest first: no interval was written after a later one of the same meter.
      for (let k = 1; k < written.length; k++) {
        assert.ok(written[k].sent_ms >= written[k - 1].sent_ms, `meter ${i}: order at ${k}`);
      }
    }
  } finally {
    await exports.stop();
    await sim.close();
    await server.close();
  }
});

Deno.test("postgres: a hung server holds up neither ingest nor stop()", async () => {
  const server = await startPostgres();
  await server.query(`CREATE ROLE ${WRITER.user} LOGIN PASSWORD '${WRITER.password}'`);
  await server.query(`CREATE DATABASE energy OWNER ${WRITER.user}`);
  const sim = await simulatedGateway({ meters: 1, speed: 600, intervalMinutes: 1 });
  const exports = startDatabaseExports({
    db: sim.db,
    bus: sim.bus,
    targets: [parseExportUrl(server.url({ ...WRITER, database: "energy" }))],
    log: keptLog(),
    stopGraceMs: 300,
  });
  const [exporter] = exports.exporters;
  const storedCount = () => storedIntervals(sim.db, simulatedMacs(0).meterMac).length;
  try {
    await waitFor("10 intervals written", () => exporter.status().intervalsSent >= 10, 15_000);
    await server.freeze(true);
    const before = storedCount();
    // The gateway keeps storing at its pace while the export waits on the frozen server.
    await waitFor("20 more intervals stored", () => storedCount() >= before + 20, 15_000);
    assert.ok(exporter.backlogIntervals() >= 20);
    await sim.stop();
    assert.ok(await settlesWithin(exports.stop(), 10_000), "stop() returned");
  } finally {
    await server.freeze(false);
    await sim.close();
    await server.close();
  }
});

Deno.test("postgres: a re-sent interval replaces its row", async () => {
  const server = await startPostgres();
  await server.query(`CREATE ROLE ${WRITER.user} LOGIN PASSWORD '${WRITER.password}'`);
  await server.query(`CREATE DATABASE energy OWNER ${WRITER.user}`);
  const dir = await Deno.makeTempDir({ prefix: "openseg-pg-resend-" });
  const db = openDatabase(`${dir}/gateway.db`);
  fillRing(db, { meters: 1, minutes: 120, intervalMinutes: 5 });
  const target = parseExportUrl(server.url({ ...WRITER, database: "energy" }));
  const run = async () => {
    const exports = startDatabaseExports({
      db,
      bus: new LiveBus(),
      targets: [target],
      log: keptLog(),
    });
    await waitFor("drained", () => exports.exporters[0].backlogIntervals() === 0);
    await exports.stop();
  };
  try {
    await run();
    const first = await server.query<TableRow>(SELECT_ROWS, [], "energy");
    assert.equal(first.length, storedIntervals(db, ringMeter(0)).length);
    // A repair replaces an interval's value; the cursor goes back to re-send it.
    const repaired = first[3];
    db.prepare("UPDATE intervals SET delivered_wh = 1234.5 WHERE start_ms = ?")
      .run(repaired.start_ms);
    db.prepare("DELETE FROM export_cursors").run();
    await run();
    const second = await server.query<TableRow>(SELECT_ROWS, [], "energy");
    assert.equal(second.length, first.length, "no duplicate rows");
    assert.equal(second[3].delivered_wh, 1234.5);
    assert.deepEqual(
      second.filter((_, k) => k !== 3).map((row) => row.delivered_wh),
      first.filter((_, k) => k !== 3).map((row) => row.delivered_wh),
    );
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
    await server.close();
  }
});

Deno.test("postgres: one log line per failure kind, and the export resumes once fixed", async (t) => {
  const server = await startPostgres();
  await server.query(`CREATE ROLE ${WRITER.user} LOGIN PASSWORD '${WRITER.password}'`);
  await server.query(`CREATE ROLE reader LOGIN PASSWORD 'reader-secret'`);
  // PostgreSQL 15: only the owner may create tables in `public`; `reader` may not.
  await server.query(`CREATE DATABASE energy OWNER ${WRITER.user}`);
  const dir = await Deno.makeTempDir({ prefix: "openseg-pg-failures-" });
  const db = openDatabase(`${dir}/gateway.db`);
  fillRing(db, { meters: 2, minutes: 60, intervalMinutes: 5 });

  /** Exports to `url` until `attempts` writes failed; returns the log and the exports. */
  const failing = async (url: string, attempts = 3) => {
    // Each case starts from the whole ring, whatever the previous one stored.
    db.prepare("DELETE FROM export_cursors").run();
    const log = keptLog();
    const target = parseExportUrl(url) as PostgresTarget;
    const sink = countingSink(postgresSink(target));
    const exports = startDatabaseExports({
      db,
      bus: new LiveBus(),
      targets: [target],
      log,
      retryMs: 20,
      sinkFor: () => sink,
    });
    await waitFor(`${attempts} attempts`, () => sink.attempts() >= attempts);
    assert.equal(exports.exporters[0].status().intervalsSent, 0);
    return { log, exports };
  };

  try {
    await t.step("unreachable", async () => {
      const { log, exports } = await failing(
        `postgres://openseg:x@127.0.0.1:${freePort()}/energy`,
      );
      await exports.stop();
      assert.equal(log.warnings.length, 1, log.warnings.join("\n"));
      assert.match(log.warnings[0], /cannot reach PostgreSQL at postgres:\/\/openseg:\*\*\*@/);
      assert.match(log.warnings[0], /ECONNREFUSED/);
    });

    await t.step("refused login", async () => {
      const { log, exports } = await failing(
        server.url({ user: WRITER.user, password: "wrong", database: "energy" }),
      );
      await exports.stop();
      assert.equal(log.warnings.length, 1, log.warnings.join("\n"));
      assert.match(log.warnings[0], /refused login 'openseg': password authentication failed/);
    });

    await t.step("missing database", async () => {
      const { log, exports } = await failing(server.url({ ...WRITER, database: "nope" }));
      await exports.stop();
      assert.equal(log.warnings.length, 1, log.warnings.join("\n"));
      assert.match(log.warnings[0], /database "nope" does not exist/);
    });

    await t.step("login may not create the table, then the table is created for it", async () => {
      const { log, exports } = await failing(
        server.url({ user: "reader", password: "reader-secret", database: "energy" }),
      );
      assert.equal(log.warnings.length, 1, log.warnings.join("\n"));
      assert.match(
        log.warnings[0],
        /table openseg_intervals does not exist and login 'reader' may not create it/,
      );
      // What docs/database_export.md tells the database owner to run.
      await server.query(createTableSql("openseg_intervals"), [], "energy");
      await server.query(
        "GRANT SELECT, INSERT, UPDATE ON openseg_intervals TO reader",
        [],
        "energy",
      );
      await waitFor("drained", () => exports.exporters[0].backlogIntervals() === 0);
      await exports.stop();
      assert.ok(log.infos.some((line) => line.endsWith("writing again")));
      await server.query("DROP TABLE openseg_intervals", [], "energy");
    });

    await t.step("a table of another shape, then fixed", async () => {
      await server.query(
        `CREATE TABLE openseg_intervals (gateway_id text, meter_id text, start_time timestamptz,
           duration_s integer, delivered_wh integer, received_wh double precision, quality text,
           PRIMARY KEY (gateway_id, meter_id, start_time, duration_s))`,
        [],
        "energy",
      );
      await server.query(`ALTER TABLE openseg_intervals OWNER TO ${WRITER.user}`, [], "energy");
      const { log, exports } = await failing(server.url({ ...WRITER, database: "energy" }));
      assert.equal(log.warnings.length, 1, log.warnings.join("\n"));
      assert.match(
        log.warnings[0],
        /does not match what openseg writes: column delivered_wh is integer, not double precision; column sent_at is missing/,
      );
      await server.query(
        `ALTER TABLE openseg_intervals ALTER delivered_wh TYPE double precision,
           ADD sent_at timestamptz NOT NULL DEFAULT now()`,
        [],
        "energy",
      );
      await waitFor("drained", () => exports.exporters[0].backlogIntervals() === 0);
      await exports.stop();
      const rows = await server.query<{ meter_id: string }>(SELECT_ROWS, [], "energy");
      assert.equal(
        rows.length,
        storedIntervals(db, ringMeter(0)).length + storedIntervals(db, ringMeter(1)).length,
      );
      assert.deepEqual(
        [...new Set(rows.map((row) => row.meter_id))].sort(),
        [usagePointIdFor(db, ringMeter(0)), usagePointIdFor(db, ringMeter(1))].sort(),
      );
      const gateways = await server.query<{ gateway_id: string }>(
        "SELECT DISTINCT gateway_id FROM openseg_intervals",
        [],
        "energy",
      );
      assert.deepEqual(gateways, [{ gateway_id: gatewayIdFor(db) }]);
    });
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
    await server.close();
  }
});
