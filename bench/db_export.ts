/**
 * Database export benchmark against a real PostgreSQL 15 and a real InfluxDB 1.6 (started here on
 * free ports): the drain of a full-ring backlog (4 meters × 48 h of 1-minute intervals) through
 * the exporter, in intervals/s, against a plain batched insert of the same rows with the same
 * driver and batch size (`pg` with the same `unnest` statement minus `ON CONFLICT`; `fetch` with
 * the same line protocol). The ratio is what the store-and-forward machinery costs (reading the
 * ring, moving the cursor, upserting); the aim is ≥ 0.5×. For PostgreSQL a plain batched upsert
 * (the same statement with `ON CONFLICT`, no exporter) is timed too, to tell the cost of
 * idempotency from the cost of the export around it.
 *
 * Run: `npx deno task bench` (or `deno run -A bench/db_export.ts`).
 *
 * @module
 */

import { startDatabaseExports } from "../src/export/db_export.ts";
import type { IntervalRow } from "../src/export/database_sink.ts";
import { type DatabaseTarget, parseExportUrl } from "../src/config/db_targets.ts";
import { influxSink, lineProtocol } from "../src/export/influx_sink.ts";
import {
  createTableSql,
  insertParams,
  insertSql,
  postgresSink,
} from "../src/export/postgres_sink.ts";
import { LiveBus } from "../src/live/bus.ts";
import { openDatabase } from "../src/store/db.ts";
import { pendingIntervals } from "../src/store/export_cursor.ts";
import { gatewayIdFor } from "../src/store/gateway_identity.ts";
import { listMeters } from "../src/store/queries.ts";
import { usagePointIdFor } from "../src/store/usage_points.ts";
import { waitFor } from "../tests/e2e/helpers.ts";
import { INFLUX_ADMIN, startInflux } from "../tests/export/influx_server.ts";
import { startPostgres } from "../tests/export/postgres_server.ts";
import { fillRing } from "../tests/export/ring_fixture.ts";
import pg from "pg";

const METERS = 4;
const HOURS = 48;
const ROUNDS = 5;
const BATCH = 1000;

/**
 * Times the exporter draining a copy of `template` into `target`, from its start (connecting
 * included) to the last write stored; intervals/s.
 */
async function exportRate(template: string, target: DatabaseTarget): Promise<number> {
  const path = `${template}.run`;
  await Deno.copyFile(template, path);
  const db = openDatabase(path);
  let lastWriteMs = 0;
  const startedMs = performance.now();
  const exports = startDatabaseExports({
    db,
    bus: new LiveBus(),
    targets: [target],
    log: { info: () => {}, warn: (line) => console.error(line) },
    batchSize: BATCH,
    sinkFor: (target) => {
      const sink = target.kind === "postgres" ? postgresSink(target) : influxSink(target);
      return {
        write: (rows) => sink.write(rows).then(() => void (lastWriteMs = performance.now())),
        close: () => sink.close(),
      };
    },
  });
  const [exporter] = exports.exporters;
  try {
    await waitFor("the drain", () => exporter.status().intervalsSent >= backlogCount, 300_000);
    return backlogCount / ((lastWriteMs - startedMs) / 1000);
  } finally {
    await exports.stop();
    db.close();
    await Deno.remove(path);
  }
}

/** Times `connect` and `insert` over `rows` in batches of `BATCH`; intervals/s. */
async function plainRate<Connection>(
  rows: IntervalRow[],
  connect: () => Promise<Connection>,
  insert: (connection: Connection, batch: IntervalRow[]) => Promise<void>,
): Promise<number> {
  const startedMs = performance.now();
  const connection = await connect();
  for (let i = 0; i < rows.length; i += BATCH) await insert(connection, rows.slice(i, i + BATCH));
  return rows.length / ((performance.now() - startedMs) / 1000);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Medians, and the best of each side: the machine is shared, and the best is the least disturbed. */
function report(
  name: string,
  exported: number[],
  plain: number[],
  baseline = "plain batched insert",
): void {
  const [e, p] = [median(exported), median(plain)];
  const [eBest, pBest] = [Math.max(...exported), Math.max(...plain)];
  console.log(
    `  ${name}: export ${Math.round(e)} intervals/s, ${baseline} ${Math.round(p)} ` +
      `intervals/s (medians of ${ROUNDS}) → ratio ${(e / p).toFixed(2)}×; ` +
      `best ${Math.round(eBest)} vs ${Math.round(pBest)} → ${(eBest / pBest).toFixed(2)}×`,
  );
}

const dir = await Deno.makeTempDir({ prefix: "openseg-bench-db-" });
const template = `${dir}/backlog.db`;
const ring = openDatabase(template);
fillRing(ring, { meters: METERS, minutes: HOURS * 60, intervalMinutes: 1 });
const gatewayId = gatewayIdFor(ring);
const backlogRows: IntervalRow[] = listMeters(ring).flatMap(({ meterKey }) =>
  pendingIntervals(ring, { sink: "bench", meterKey, limit: 1_000_000 }).map((reading) => ({
    gatewayId,
    meterId: usagePointIdFor(ring, meterKey),
    reading,
  }))
);
const backlogCount = backlogRows.length;
ring.close();

const postgres = await startPostgres();
const influx = await startInflux();
try {
  console.log(
    `Database export: a full-ring backlog (${METERS} meters × ${HOURS} h, ${backlogCount} 1-minute ` +
      `intervals), batches of ${BATCH}`,
  );
  await postgres.query("CREATE ROLE openseg LOGIN PASSWORD 'bench'");
  await postgres.query("CREATE DATABASE energy OWNER openseg");
  const pgUrl = postgres.url({ user: "openseg", password: "bench", database: "energy" });
  const pgTarget = parseExportUrl(pgUrl);
  const pgExport: number[] = [];
  const pgPlain: number[] = [];
  const pgUpsert: number[] = [];
  // All go into the same empty table, which exists: the exporter only checks its columns.
  await postgres.query(createTableSql("openseg_intervals"), [], "energy");
  await postgres.query("ALTER TABLE openseg_intervals OWNER TO openseg", [], "energy");
  const plainPg = async (upsert: boolean) => {
    await postgres.query("TRUNCATE openseg_intervals", [], "energy");
    const sql = insertSql("openseg_intervals", { upsert });
    const client = new pg.Client({ connectionString: pgUrl });
    try {
      return await plainRate(
        backlogRows,
        () => client.connect(),
        (_, batch) => client.query(sql, insertParams(batch)),
      );
    } finally {
      await client.end();
    }
  };
  for (let round = 0; round < ROUNDS; round++) {
    await postgres.query("TRUNCATE openseg_intervals", [], "energy");
    pgExport.push(await exportRate(template, pgTarget));
    pgPlain.push(await plainPg(false));
    pgUpsert.push(await plainPg(true));
  }
  report("PostgreSQL (pg)", pgExport, pgPlain);
  // What of the gap is the idempotent upsert itself rather than the export around it.
  report("PostgreSQL (pg)", pgExport, pgUpsert, "plain batched upsert (ON CONFLICT)");

  const influxUrl = `influxdb://${INFLUX_ADMIN.user}:${INFLUX_ADMIN.password}@127.0.0.1:` +
    `${influx.port}/energy`;
  const influxTarget = parseExportUrl(influxUrl);
  const writeUrl = influxTarget.kind === "influxdb" ? influxTarget.writeUrl : "";
  const authorization = `Basic ${btoa(`${INFLUX_ADMIN.user}:${INFLUX_ADMIN.password}`)}`;
  const influxExport: number[] = [];
  const influxPlain: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    await influx.query('DROP DATABASE "energy"');
    await influx.query('CREATE DATABASE "energy"');
    influxExport.push(await exportRate(template, influxTarget));
    await influx.query('DROP DATABASE "energy"');
    await influx.query('CREATE DATABASE "energy"');
    influxPlain.push(
      await plainRate(backlogRows, () => Promise.resolve(), async (_, batch) => {
        const response = await fetch(writeUrl, {
          method: "POST",
          headers: { authorization, "content-type": "text/plain; charset=utf-8" },
          body: lineProtocol("openseg_interval", batch),
        });
        if (response.status !== 204) throw new Error(await response.text());
      }),
    );
  }
  report("InfluxDB v1 (fetch)", influxExport, influxPlain);
} finally {
  await influx.close();
  await postgres.close();
  await Deno.remove(dir, { recursive: true });
}
