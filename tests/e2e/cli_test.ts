/**
 * The CLI as users and scripts call it: real subprocesses of `main.ts` with the same permissions
 * as the `deno task` entries. Covers `serve` on the simulated default (and a `kill -9` in the
 * middle of it), `status`, `decode`, `ports`, `--help` and bad options.
 *
 * @module
 */

import { referenceFolder } from "../reference.ts";
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { openDatabase } from "../../src/store/db.ts";
import { waitFor } from "./helpers.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const CAPTURES = referenceFolder("raven/").pathname;
const PERMISSIONS = [
  "--allow-ffi",
  "--allow-env",
  "--allow-read",
  "--allow-write",
  "--allow-net=127.0.0.1",
];

function openseg(args: string[], stdin?: Uint8Array) {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, MAIN, ...args],
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  });
  if (!stdin) return command.output();
  const child = command.spawn();
  const writer = child.stdin.getWriter();
  writer.write(stdin).then(() => writer.close());
  return child.output();
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("serve --simulate stores data; kill -9 leaves a sound database with every commit", async () => {
  const dir = await Deno.makeTempDir({ prefix: "openseg-cli-" });
  const dbPath = `${dir}/gateway.db`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...PERMISSIONS,
      MAIN,
      "serve",
      "--simulate",
      "--speed",
      "3600",
      "--db",
      dbPath,
      "--listen",
      "127.0.0.1:0",
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  let committedRows = 0;
  try {
    await waitFor("the database file", () => {
      try {
        return Deno.statSync(dbPath).isFile;
      } catch {
        return false;
      }
    }, 20_000);
    const reader = new DatabaseSync(dbPath, { readOnly: true });
    const count = () => {
      try {
        return Number(reader.prepare("SELECT count(*) AS n FROM demand").get()?.n ?? 0);
      } catch {
        return 0; // schema not created yet
      }
    };
    await waitFor("500 committed demand rows", () => count() >= 500, 30_000);
    committedRows = count();
    reader.close();
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone: the assertions below report how it ended.
    }
  }
  const { stdout, stderr, code, signal } = await output;
  assert.equal(signal, "SIGKILL", `exit ${code}: ${text(stderr)}`);
  assert.match(text(stdout), /link connected/);

  const db = openDatabase(dbPath);
  const integrity = db.prepare("PRAGMA integrity_check").get() as Record<string, string>;
  assert.equal(Object.values(integrity)[0], "ok");
  const rows = Number(db.prepare("SELECT count(*) AS n FROM demand").get()?.n);
  assert.ok(rows >= committedRows, `${rows} rows after the crash, ${committedRows} seen committed`);
  db.close();

  const status = await openseg(["status", "--db", dbPath, "--json"]);
  assert.equal(status.code, 0, text(status.stderr));
  const meters = JSON.parse(text(status.stdout));
  assert.equal(meters.length, 1);
  assert.equal(meters[0].rows.demand, rows);
  assert.ok(meters[0].newestMs > meters[0].oldestMs);
  const human = await openseg(["status", "--db", dbPath]);
  assert.match(text(human.stdout), /rows: +demand \d+/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("decode turns a capture into NDJSON with SI units", async () => {
  const { code, stdout } = await openseg(["decode", `${CAPTURES}emu2-fragments-roachwork.txt`]);
  assert.equal(code, 0);
  const lines = text(stdout).trim().split("\n").map((line) => JSON.parse(line));
  const demand = lines.find((l) => l.fragment === "InstantaneousDemand");
  assert.equal(demand.demandW, 1197);
  assert.equal(demand.time, "2024-04-22T06:00:02.000Z");
  const summation = lines.find((l) => l.fragment === "CurrentSummationDelivered");
  assert.equal(summation.summationDeliveredWh, 156_762_302);
});

Deno.test("decode never crashes on garbage from stdin", async () => {
  const garbage = new Uint8Array(64 * 1024);
  crypto.getRandomValues(garbage);
  const tail = new TextEncoder().encode("<Broken><A>1</B></Broken>\n<Unclosed><X>1</X>");
  const input = new Uint8Array(garbage.length + tail.length);
  input.set(garbage);
  input.set(tail, garbage.length);
  const { code, stdout } = await openseg(["decode", "-"], input);
  assert.equal(code, 0);
  for (const line of text(stdout).trim().split("\n").filter(Boolean)) {
    const parsed = JSON.parse(line);
    assert.ok("fragment" in parsed);
  }
  assert.match(text(stdout), /"error"/);
});

Deno.test("bad options: one line naming the option, exit code 2", async () => {
  const cases: [string[], RegExp][] = [
    [["serve", "--speed", "fast"], /--speed: 'fast' is not a number/],
    [["serve", "--retention-hours", "0"], /--retention-hours: 0 is outside/],
    [["serve", "--frobnicate"], /frobnicate/],
    [["status", "--db"], /--db/],
    [["nosuchcommand"], /unknown command 'nosuchcommand'/],
  ];
  for (const [args, pattern] of cases) {
    const { code, stderr } = await openseg(args);
    const message = text(stderr).trim();
    assert.equal(code, 2, `${args.join(" ")}: ${message}`);
    assert.match(message, pattern);
    assert.equal(message.split("\n").length, 1, message);
  }
});

Deno.test("--help everywhere", async () => {
  for (
    const args of [["--help"], ["serve", "--help"], ["status", "--help"], ["ports", "--help"], [
      "decode",
      "--help",
    ]]
  ) {
    const { code, stdout } = await openseg(args);
    assert.equal(code, 0, args.join(" "));
    assert.match(text(stdout), /Usage: openseg/);
  }
  const serveHelp = text((await openseg(["serve", "--help"])).stdout);
  for (
    const flag of ["--serial", "--simulate", "--meters", "--speed", "--db", "--retention-hours"]
  ) {
    assert.ok(serveHelp.includes(flag), `serve --help mentions ${flag}`);
  }
});

Deno.test("ports lists serial ports through libserialport", async () => {
  const { code, stdout } = await openseg(["ports", "--json"]);
  assert.equal(code, 0);
  const ports = JSON.parse(text(stdout));
  assert.ok(Array.isArray(ports));
  for (const port of ports) {
    assert.equal(typeof port.name, "string");
    assert.ok(["native", "usb", "bluetooth", "unknown"].includes(port.transport));
  }
});
