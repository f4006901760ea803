/**
 * `openseg serve --export-url` end to end, as shipped: the release bundle (`packaging/bundle.sh`,
 * what the binary embeds) runs from an empty directory with `--allow-net` limited to the
 * databases' host, exporting to a real PostgreSQL and a real InfluxDB at once. After SIGTERM the
 * process exits 0, each holds every interval up to its cursors (a cursor per meter and
 * destination), and the log names both destinations without their passwords.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { startInflux } from "./influx_server.ts";
import { startPostgres } from "./postgres_server.ts";
import { buildReleaseBundle } from "../packaging/release_bundle.ts";

Deno.test("serve --export-url (bundled, --allow-net=127.0.0.1): PostgreSQL and InfluxDB hold what the cursors acknowledged", async () => {
  const postgres = await startPostgres();
  await postgres.query("CREATE ROLE openseg LOGIN PASSWORD 'pg-secret'");
  await postgres.query("CREATE DATABASE energy OWNER openseg");
  const influx = await startInflux();
  await influx.query('CREATE DATABASE "energy"');
  const dir = await Deno.makeTempDir({ prefix: "openseg-serve-export-" });
  const bundle = await buildReleaseBundle(dir);
  const pgUrl = postgres.url({ user: "openseg", password: "pg-secret", database: "energy" });
  const influxUrl = `influxdb://admin:admin-secret@127.0.0.1:${influx.port}/energy`;
  await Deno.mkdir(`${dir}/run`);
  const process = new Deno.Command(Deno.execPath(), {
    cwd: `${dir}/run`,
    args: [
      "run",
      "--no-config",
      "--allow-ffi",
      "--allow-env",
      "--allow-read=.",
      "--allow-write=.",
      "--allow-net=127.0.0.1",
      bundle,
      "serve",
      "--simulate",
      "--meters",
      "2",
      "--speed",
      "600",
      "--interval-minutes",
      "1",
      "--db",
      "gateway.db",
      "--listen",
      "127.0.0.1:0",
      "--export-url",
      pgUrl,
      "--export-url",
      influxUrl,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = Promise.all([
    new Response(process.stdout).text(),
    new Response(process.stderr).text(),
  ]);
  const pgCount = async () => {
    const rows = await postgres.query<{ n: string }>(
      "SELECT count(*) AS n FROM openseg_intervals",
      [],
      "energy",
    ).catch(() => [{ n: "0" }]);
    return Number(rows[0].n);
  };
  try {
    for (let polls = 0; (await pgCount()) < 20; polls++) {
      assert.ok(polls < 300, "20 intervals in PostgreSQL within 30 s");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    process.kill("SIGTERM");
    const status = await process.status;
    const [stdout, stderr] = await output;
    assert.equal(status.code, 0, stderr);
    const logged = stdout + stderr;
    assert.match(logged, /exporting interval readings to postgres:\/\/openseg:\*\*\*@127\.0\.0\.1/);
    assert.match(logged, /exporting interval readings to influxdb:\/\/admin:\*\*\*@127\.0\.0\.1/);
    assert.ok(!logged.includes("pg-secret") && !logged.includes("admin-secret"), logged);

    const db = new DatabaseSync(`${dir}/run/gateway.db`, { readOnly: true });
    try {
      // Everything up to each cursor is in the database; a batch whose acknowledgement the stop
      // cut off may be there too (at least once), and is re-sent on the next start.
      const acknowledgedBy = (sink: string) =>
        (db.prepare(
          `SELECT count(*) AS n FROM intervals i JOIN export_cursors c
             ON c.meter_key = i.meter_key AND c.sink LIKE ? WHERE i.start_ms <= c.start_ms`,
        ).get(`${sink}%`) as { n: number }).n;
      const complete = (db.prepare(
        `SELECT count(*) AS n FROM intervals i WHERE start_ms + duration_s * 1000 <=
           (SELECT max(ts_ms) FROM summation s WHERE s.meter_key = i.meter_key)`,
      ).get() as { n: number }).n;
      const cursors = db.prepare("SELECT count(*) AS n FROM export_cursors").get() as { n: number };
      assert.equal(cursors.n, 4, "a cursor per meter and destination");
      for (
        const [sink, inDatabase] of [
          ["postgres:", await pgCount()],
          ["influxdb:", (await influx.rows("energy", "openseg_interval")).length],
        ] as const
      ) {
        const acknowledged = acknowledgedBy(sink);
        assert.ok(acknowledged >= 20, `${sink} ${acknowledged}`);
        assert.ok(inDatabase >= acknowledged && inDatabase <= complete, `${sink} ${inDatabase}`);
      }
    } finally {
      db.close();
    }
  } finally {
    try {
      process.kill("SIGKILL");
    } catch {
      // Already exited: the normal case.
    }
    await output;
    await Deno.remove(dir, { recursive: true });
    await influx.close();
    await postgres.close();
  }
});
