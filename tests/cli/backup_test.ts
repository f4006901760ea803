/**
 * `openseg backup` against a real gateway: `openseg serve --simulate --speed 60` writes into the
 * database (two meters catching up a day of backfill) while `openseg backup` copies it; the copy
 * passes `integrity_check` and holds every row committed before the backup started. Plus the
 * refusals (existing target, missing database) and restoring by copying back.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { openDatabase } from "../../src/store/db.ts";
import { GATEWAY_RUN_ARGS } from "../e2e/helpers.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const POLL_MS = 100;
const MAX_POLLS = 600;
/** Enough committed rows that the snapshot before the backup means something. */
const MIN_DEMAND_ROWS = 5000;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function openseg(args: string[]): Promise<Run> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-ffi", "--allow-env", "--allow-read", "--allow-write", MAIN, ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

async function withDir(test: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "openseg-backup-" });
  try {
    await test(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Every demand reading and interval committed in `path`, as `meter|time` keys. */
function committedRows(path: string): Set<string> {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const demand = db.prepare("SELECT meter_key || '|d|' || ts_ms AS key FROM demand").all();
    const intervals = db.prepare(
      "SELECT meter_key || '|i|' || start_ms || '|' || duration_s AS key FROM intervals",
    ).all();
    return new Set([...demand, ...intervals].map((row) => (row as { key: string }).key));
  } finally {
    db.close();
  }
}

function demandRows(path: string): number {
  try {
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      return (db.prepare("SELECT count(*) AS n FROM demand").get() as { n: number }).n;
    } finally {
      db.close();
    }
  } catch {
    return 0; // Not created or not migrated yet.
  }
}

function integrity(path: string): string {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return (db.prepare("PRAGMA integrity_check").get() as { integrity_check: string })
      .integrity_check;
  } finally {
    db.close();
  }
}

Deno.test("backup of a gateway writing at 60x speed is verified and holds every earlier commit", async () => {
  await withDir(async (dir) => {
    const db = `${dir}/gateway.db`;
    const serve = new Deno.Command(Deno.execPath(), {
      args: [
        ...GATEWAY_RUN_ARGS,
        MAIN,
        "serve",
        "--simulate",
        "--meters",
        "2",
        "--speed",
        "60",
        "--backfill-hours",
        "24",
        "--listen",
        "127.0.0.1:0",
        "--quiet",
        "--db",
        db,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      for (let poll = 0; poll < MAX_POLLS && demandRows(db) < MIN_DEMAND_ROWS; poll++) {
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
      const before = committedRows(db);
      assert.ok(before.size >= MIN_DEMAND_ROWS, `only ${before.size} rows committed`);

      const backup = await openseg(["backup", "--db", db, "--to", `${dir}/copy.db`]);
      assert.equal(backup.code, 0, backup.stderr);
      assert.match(backup.stdout, /integrity ok/);

      // The gateway kept writing while the copy was taken.
      const after = committedRows(db);
      assert.ok(after.size > before.size, `${after.size} rows after, ${before.size} before`);

      assert.equal(integrity(`${dir}/copy.db`), "ok");
      const copied = committedRows(`${dir}/copy.db`);
      const missing = [...before].filter((key) => !copied.has(key));
      assert.deepEqual(missing, []);
      // A snapshot: nothing the gateway wrote after the copy finished.
      assert.ok(copied.size <= after.size);
    } finally {
      serve.kill("SIGTERM");
      await serve.status;
    }

    // Restore: with the gateway stopped, the backup copied over the database opens as it was.
    const backedUp = committedRows(`${dir}/copy.db`);
    await Deno.copyFile(`${dir}/copy.db`, db);
    const restored = openDatabase(db);
    restored.close();
    assert.deepEqual(committedRows(db), backedUp);
  });
});

Deno.test("backup refuses to overwrite a file unless --force, and says when there is no database", async () => {
  await withDir(async (dir) => {
    const db = `${dir}/gateway.db`;
    openDatabase(db).close();
    const target = `${dir}/copy.db`;
    await Deno.writeTextFile(target, "an older backup");

    const refused = await openseg(["backup", "--db", db, "--to", target]);
    assert.equal(refused.code, 1);
    assert.equal(refused.stderr, `openseg backup: ${target} exists; give --force to replace it\n`);
    assert.equal(await Deno.readTextFile(target), "an older backup");

    const forced = await openseg(["backup", "--db", db, "--to", target, "--force"]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(integrity(target), "ok");

    const missing = await openseg(["backup", "--db", `${dir}/none.db`, "--to", `${dir}/x.db`]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, `openseg backup: no database at ${dir}/none.db\n`);
    await assert.rejects(Deno.stat(`${dir}/none.db`), Deno.errors.NotFound);

    const noTarget = await openseg(["backup", "--db", db]);
    assert.equal(noTarget.code, 2);
    assert.equal(noTarget.stderr, "openseg backup: --to FILE is required\n");

    // No partial file is left behind by any of them.
    const names = (await Array.fromAsync(Deno.readDir(dir))).map((entry) => entry.name);
    assert.deepEqual(names.filter((name) => name.includes("partial")), []);
  });
});
