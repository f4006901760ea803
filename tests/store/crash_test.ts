/**
 * Crash safety: a writer killed with SIGKILL mid-stream leaves a database that passes
 * `integrity_check` and holds at least everything it reported as committed.
 *
 * @module
 */

import assert from "node:assert/strict";
import { openDatabase } from "../../src/store/db.ts";
import { rowCount } from "./fixtures.ts";

const KILL_AFTER_COMMITTED = 20_000;

Deno.test("kill -9 during ingest: integrity ok and every reported commit present", async () => {
  const dir = await Deno.makeTempDir({ prefix: "openseg-crash-" });
  const path = `${dir}/cache.db`;
  try {
    const writerScript = new URL("./crash_writer.ts", import.meta.url).pathname;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-write", writerScript, path],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    // A writer that stops printing must not hang the suite.
    const deadline = setTimeout(() => child.kill("SIGKILL"), 60_000);

    let lastReported = 0;
    let killed = false;
    let pending = "";
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      pending += decoder.decode(chunk, { stream: true });
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        const match = /^committed (\d+)$/.exec(line);
        if (match) lastReported = Number(match[1]);
      }
      if (!killed && lastReported >= KILL_AFTER_COMMITTED) {
        child.kill("SIGKILL");
        killed = true; // keep reading: lines printed before the kill still count
      }
    }
    const status = await child.status;
    clearTimeout(deadline);
    assert.ok(killed, "the writer reached the kill threshold");
    assert.equal(status.signal, "SIGKILL");

    const db = openDatabase(path);
    try {
      const integrity = db.prepare("PRAGMA integrity_check").get() as { integrity_check: string };
      assert.equal(integrity.integrity_check, "ok");
      const stored = rowCount(db, "demand");
      console.log(`reported ${lastReported}, found ${stored} after SIGKILL`);
      assert.ok(stored >= lastReported, `${stored} rows < ${lastReported} reported`);
    } finally {
      db.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
