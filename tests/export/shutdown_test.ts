/**
 * Graceful shutdown of `openseg serve` in a subprocess: SIGTERM → exit 0, with the order stop
 * fragments → flush the store → close the ports → publish the last commit and `offline` → close
 * the broker connection → close the database. Checked from outside: the newest demand row is the
 * last value published, the status topic ends `offline`, and the database was closed cleanly (no
 * WAL file left).
 *
 * @module
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { startBroker, subscriber } from "./broker.ts";
import { waitFor } from "./fixtures.ts";
import { GATEWAY_RUN_ARGS } from "../e2e/helpers.ts";

Deno.test("SIGTERM: exit 0, last committed data stored and published, broker told offline", async () => {
  const broker = await startBroker();
  const dir = await Deno.makeTempDir({ prefix: "openseg-shutdown-" });
  const dbPath = `${dir}/gateway.db`;
  const { client, messages } = await subscriber(broker.url, "openseg/#");
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...GATEWAY_RUN_ARGS,
      new URL("../../main.ts", import.meta.url).pathname,
      "serve",
      "--simulate",
      "--speed",
      "600",
      "--quiet",
      "--db",
      dbPath,
      "--listen",
      "127.0.0.1:0",
      "--mqtt-url",
      broker.url,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  try {
    const demands = () => messages.filter((m) => m.topic.endsWith("/demand"));
    // Live topics get at most one value per 5 s: two show the stream is flowing.
    await waitFor("2 live demand values", () => demands().length >= 2, 30_000);
    child.kill("SIGTERM");
    const status = await child.status;
    const [stdout, stderr] = await output;
    assert.equal(status.code, 0, stderr);
    assert.match(stdout, /openseg: stopping/);
    assert.match(stdout, /MQTT export to mqtt:\/\/127\.0\.0\.1/);

    await waitFor("offline", () => messages.at(-1)?.text === "offline");
    const last = JSON.parse(demands().at(-1)!.text);
    await Deno.stat(dbPath);
    await assert.rejects(Deno.stat(`${dbPath}-wal`), Deno.errors.NotFound, "closed cleanly");
    const db = new DatabaseSync(dbPath, { readOnly: true });
    try {
      const newest = db.prepare("SELECT ts_ms, demand_w FROM demand ORDER BY ts_ms DESC LIMIT 1")
        .get() as { ts_ms: number; demand_w: number };
      assert.deepEqual([newest.ts_ms, newest.demand_w], [last.timeMs, last.demandW]);
    } finally {
      db.close();
    }
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited: the normal case.
    }
    await output;
    await client.endAsync();
    await broker.close();
    await Deno.remove(dir, { recursive: true });
  }
});
