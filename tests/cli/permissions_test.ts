/**
 * Permission refusals are one line naming the option and the permission to grant, exit code 2:
 * real `openseg` subprocesses run under the least permissions the docs give (`--allow-net` for
 * 127.0.0.1 only, files for one directory), asked for something outside them.
 */
import assert from "node:assert/strict";
import { startPermissions } from "../../src/cli/start.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

interface Run {
  code: number;
  stderr: string;
}

/** `openseg args` with `permissions` (files limited to `dir` unless the permissions say more). */
async function openseg(
  permissions: string[],
  args: string[],
  env: Record<string, string> = {},
): Promise<Run> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-ffi", "--allow-env", ...permissions, MAIN, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).output();
  return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
}

async function withDir(test: (dir: string) => Promise<void>) {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "openseg-perm-" }));
  try {
    await test(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Exactly one line on stderr, exit 2, no stack trace. */
function assertOneLine(run: Run, expected: string) {
  assert.equal(run.code, 2, run.stderr);
  assert.equal(run.stderr, `${expected}\n`);
}

/** The `start` task's permissions for files in `dir` and the network on 127.0.0.1. */
function least(dir: string): string[] {
  return [`--allow-read=${dir}`, `--allow-write=${dir}`, "--allow-net=127.0.0.1"];
}

Deno.test("serve --listen on an address outside --allow-net names --listen and the grant", async () => {
  await withDir(async (dir) => {
    const run = await openseg(least(dir), [
      "serve",
      "--listen",
      "0.0.0.0:0",
      "--db",
      `${dir}/g.db`,
    ]);
    assertOneLine(
      run,
      "openseg serve: --listen 0.0.0.0:0 is not permitted: grant --allow-net=0.0.0.0",
    );
    const fixed = await openseg(least(dir), [
      "serve",
      "--listen",
      "0.0.0.0:8080",
      "--db",
      `${dir}/g.db`,
    ]);
    assertOneLine(
      fixed,
      "openseg serve: --listen 0.0.0.0:8080 is not permitted: grant --allow-net=0.0.0.0:8080",
    );
    // Nothing started: no database was created.
    await assert.rejects(Deno.stat(`${dir}/g.db`), Deno.errors.NotFound);
  });
});

Deno.test("a listen address from OPENSEG_LISTEN is named as the variable", async () => {
  await withDir(async (dir) => {
    const run = await openseg(least(dir), ["serve", "--db", `${dir}/g.db`], {
      OPENSEG_LISTEN: "0.0.0.0:8080",
    });
    assertOneLine(
      run,
      "openseg serve: OPENSEG_LISTEN 0.0.0.0:8080 is not permitted: grant --allow-net=0.0.0.0:8080",
    );
  });
});

Deno.test("serve --mqtt-url to a broker outside --allow-net fails at start-up, not in a retry loop", async () => {
  await withDir(async (dir) => {
    const run = await openseg(least(dir), [
      "serve",
      "--listen",
      "127.0.0.1:0",
      "--db",
      `${dir}/g.db`,
      "--mqtt-url",
      "mqtts://broker.invalid",
    ]);
    assertOneLine(
      run,
      "openseg serve: --mqtt-url mqtts://broker.invalid is not permitted: " +
        "grant --allow-net=broker.invalid:8883",
    );
  });
});

Deno.test("serve --db and --tls-cert outside the granted directory name the flag and the grant", async () => {
  await withDir(async (dir) => {
    await withDir(async (other) => {
      const db = await openseg(least(dir), [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--db",
        `${other}/g.db`,
      ]);
      assertOneLine(
        db,
        `openseg serve: --db ${other}/g.db is not permitted: grant --allow-read=${other} ` +
          `--allow-write=${other} (the database and its -wal and -shm files)`,
      );
      const tls = await openseg(least(dir), [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--db",
        `${dir}/g.db`,
        "--tls-cert",
        `${other}/cert.pem`,
        "--tls-key",
        `${dir}/key.pem`,
      ]);
      assertOneLine(
        tls,
        `openseg serve: --tls-cert ${other}/cert.pem is not permitted: ` +
          `grant --allow-read=${other}/cert.pem`,
      );
    });
  });
});

Deno.test("status and apps with --db outside --allow-read name --db instead of a stack trace", async () => {
  await withDir(async (dir) => {
    await withDir(async (other) => {
      const path = `${other}/g.db`;
      await Deno.writeFile(path, new Uint8Array());
      const expected = (command: string) =>
        `openseg ${command}: --db ${path}: read access to ${path} is not permitted: ` +
        `grant --allow-read=${path}`;
      assertOneLine(await openseg(least(dir), ["status", "--db", path]), expected("status"));
      assertOneLine(await openseg(least(dir), ["apps", "list", "--db", path]), expected("apps"));
    });
  });
});

Deno.test("households with --db outside the grants names --db and its directory; nothing written", async () => {
  await withDir(async (dir) => {
    await withDir(async (other) => {
      const path = `${other}/g.db`;
      for (const action of [["add", "Flat 2"], ["list"], ["assign", "Home", "Kitchen"]]) {
        assertOneLine(
          await openseg(least(dir), ["households", ...action, "--db", path]),
          `openseg households: --db ${path} is not permitted: grant --allow-read=${other} ` +
            `--allow-write=${other} (the database and its -wal and -shm files)`,
        );
      }
      assert.deepEqual(await Array.fromAsync(Deno.readDir(other)), []);
    });
  });
});

Deno.test("backup --to outside --allow-write names --to before anything is written", async () => {
  await withDir(async (dir) => {
    await withDir(async (other) => {
      const db = `${dir}/g.db`;
      await Deno.writeFile(db, new Uint8Array());
      const run = await openseg(least(dir), ["backup", "--db", db, "--to", `${other}/copy.db`]);
      assertOneLine(
        run,
        `openseg backup: --to ${other}/copy.db is not permitted: grant --allow-read=${other} ` +
          `--allow-write=${other} (the copy is written beside it first)`,
      );
      assert.deepEqual(await Array.fromAsync(Deno.readDir(other)), []);
    });
  });
});

Deno.test("a command run without --allow-env says so in one line", async () => {
  await withDir(async (dir) => {
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        `--allow-read=${dir}`,
        `--allow-write=${dir}`,
        MAIN,
        "status",
        "--db",
        `${dir}/g.db`,
      ],
      stdin: "null",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    assertOneLine(
      { code: output.code, stderr: new TextDecoder().decode(output.stderr) },
      "openseg status: env access is not permitted: grant --allow-env",
    );
  });
});

Deno.test("the start task grants the network for --listen, the broker and the databases, nothing else", () => {
  const flags = startPermissions(
    ["--listen", "0.0.0.0:8080", "--mqtt-url", "mqtt://broker.lan"],
    {},
  );
  assert.deepEqual(flags, [
    "--allow-ffi",
    "--allow-env",
    "--allow-read",
    "--allow-write",
    "--allow-net=0.0.0.0:8080,broker.lan:1883",
  ]);
  assert.equal(
    startPermissions([], { OPENSEG_LISTEN: "192.168.1.5:80" }).at(-1),
    "--allow-net=192.168.1.5:80",
  );
  assert.equal(
    startPermissions([
      "--export-url",
      "postgres://openseg:pw@db.lan/energy",
      "--export-url",
      "influxdb://influx.lan/energy",
    ], {}).at(-1),
    "--allow-net=127.0.0.1:8080,db.lan:5432,influx.lan:8086",
  );
  // The default listen address and nothing else: the HTTP server needs no private hop.
  assert.equal(startPermissions([], {}).at(-1), "--allow-net=127.0.0.1:8080");
});
