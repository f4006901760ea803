/**
 * The console logger: JSON lines with `time`, `level`, `msg` and the fields; text as the bare
 * message; level filtering. Then `serve --log-format json` as a subprocess: every line it prints is
 * a JSON object, including the link state, and `/healthz` at the logged address answers; and over
 * one whole run with its radio unplugged and plugged back, an unreachable MQTT broker and hostile
 * requests, every line on stdout and stderr is JSON and the unplug and the reconnect are logged.
 *
 * @module
 */

import assert from "node:assert/strict";
import { loadServeConfig } from "../../src/config.ts";
import { createLogger, type LogLevel } from "../../src/log.ts";
import { GATEWAY_RUN_ARGS, waitFor } from "../e2e/helpers.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const DRIVER = new URL("./serve_with_radio.ts", import.meta.url).pathname;
/** The port name of the radio `serve_with_radio.ts` plays. */
const RADIO = "pty-radio";

/** `serve --log-format json` started by `entry`, on a free loopback port, both streams piped. */
function serveInJson(entry: string[], dir: string, extraArgs: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      ...GATEWAY_RUN_ARGS,
      ...entry,
      "--log-format",
      "json",
      "--db",
      `${dir}/gateway.db`,
      "--listen",
      "127.0.0.1:0",
      ...extraArgs,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** `openseg serve --simulate`, the real entry point. */
const SIMULATED = [MAIN, "serve", "--simulate"];
/**
 * `serve` whose radio the test unplugs and plugs back (SIGUSR2 each): see `serve_with_radio.ts`.
 */
const UNPLUGGABLE = [DRIVER, RADIO, "--serial", RADIO];

function capture() {
  const lines: { line: string; level: LogLevel }[] = [];
  return { lines, write: (line: string, level: LogLevel) => lines.push({ line, level }) };
}

Deno.test("json: one parseable object per line with time, level, msg and fields", () => {
  const out = capture();
  const log = createLogger({ format: "json", level: "debug", write: out.write, nowMs: () => 0 });
  log.debug("tick");
  log.info("[sim:0] link connected", { port: "sim:0", state: "connected", detail: null });
  log.error("store: flush failed", { error: "disk full", level: "not this", msg: "nor this" });
  const records = out.lines.map(({ line }) => JSON.parse(line));
  assert.deepEqual(records, [
    { time: "1970-01-01T00:00:00.000Z", level: "debug", msg: "tick" },
    {
      time: "1970-01-01T00:00:00.000Z",
      level: "info",
      msg: "[sim:0] link connected",
      port: "sim:0",
      state: "connected",
      detail: null,
    },
    {
      time: "1970-01-01T00:00:00.000Z",
      level: "error",
      msg: "store: flush failed",
      error: "disk full",
    },
  ]);
  assert.deepEqual(out.lines.map((l) => l.level), ["debug", "info", "error"]);
  for (const { line } of out.lines) assert.ok(!line.includes("\n"));
});

Deno.test("level filtering drops what is less severe; text prints the bare message", () => {
  const out = capture();
  const log = createLogger({ format: "text", level: "warn", write: out.write });
  log.debug("d", { a: 1 });
  log.info("i");
  log.warn("w", { a: 1 });
  log.error("e");
  assert.deepEqual(out.lines, [{ line: "w", level: "warn" }, { line: "e", level: "error" }]);
});

Deno.test("--log-format and --log-level: flags, environment, defaults, bad values", () => {
  const defaults = loadServeConfig([], { env: {} })!;
  assert.equal(defaults.logFormat, "text");
  assert.equal(defaults.logLevel, "info");
  const fromEnv = loadServeConfig([], {
    env: { OPENSEG_LOG_FORMAT: "json", OPENSEG_LOG_LEVEL: "debug" },
  })!;
  assert.deepEqual([fromEnv.logFormat, fromEnv.logLevel], ["json", "debug"]);
  const fromFlags = loadServeConfig(["--log-format", "json", "--log-level", "error"], {
    env: { OPENSEG_LOG_FORMAT: "text" },
  })!;
  assert.deepEqual([fromFlags.logFormat, fromFlags.logLevel], ["json", "error"]);
  assert.throws(() => loadServeConfig(["--log-format", "xml"], { env: {} }), /--log-format/);
  assert.throws(() => loadServeConfig(["--log-level", "trace"], { env: {} }), /--log-level/);
});

Deno.test("serve --log-format json prints JSON lines; /healthz answers at the logged address", async () => {
  const dir = await Deno.makeTempDir({ prefix: "openseg-log-" });
  const child = serveInJson(SIMULATED, dir, ["--speed", "60"]);
  const records: Record<string, unknown>[] = [];
  const stdout = (async () => {
    let buffered = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffered += chunk;
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) records.push(JSON.parse(line));
    }
  })();
  const stderr = new Response(child.stderr).text();
  try {
    await waitFor("link connected", () => records.some((r) => r.state === "connected"), 20_000);
    const http = records.find((r) => typeof r.url === "string" && r.timeZone !== undefined);
    assert.ok(http, "the HTTP address is logged with its url");
    // Right after start a meter may not have reported its join state yet: degraded for a moment.
    let status = 0;
    for (let i = 0; i < 40 && status !== 200; i++) {
      const response = await fetch(`${http.url}/healthz`);
      status = response.status;
      await response.body?.cancel();
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assert.equal(status, 200);
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await stdout;
    await stderr;
    await Deno.remove(dir, { recursive: true });
  }
  for (const record of records) {
    assert.equal(typeof record.time, "string");
    assert.ok(["debug", "info", "warn", "error"].includes(record.level as string));
    assert.equal(typeof record.msg, "string");
  }
  assert.ok(records.some((r) => r.msg === "openseg: stopping"));
});

Deno.test("serve --log-format json, a whole run: radio unplugged and plugged back, broker unreachable, hostile requests; every line on both streams is JSON", async () => {
  const dir = await Deno.makeTempDir({ prefix: "openseg-log-" });
  // A port nothing listens on: the MQTT export fails to connect and says so.
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const brokerPort = (closed.addr as Deno.NetAddr).port;
  closed.close();
  const child = serveInJson(UNPLUGGABLE, dir, ["--mqtt-url", `mqtt://127.0.0.1:${brokerPort}`]);
  const lines: { stream: "stdout" | "stderr"; line: string }[] = [];
  const read = (stream: ReadableStream<Uint8Array<ArrayBuffer>>, name: "stdout" | "stderr") =>
    (async () => {
      let buffered = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        buffered += chunk;
        const complete = buffered.split("\n");
        buffered = complete.pop()!;
        lines.push(...complete.map((line) => ({ stream: name, line })));
      }
      if (buffered !== "") lines.push({ stream: name, line: buffered });
    })();
  const streams = Promise.all([read(child.stdout, "stdout"), read(child.stderr, "stderr")]);
  // Only lines that parse: the check that every line does comes after the run.
  const records = () =>
    lines.flatMap(({ line }) => {
      try {
        return [JSON.parse(line)];
      } catch {
        return [];
      }
    });
  /** Index of the first radio record of the port in `state` after record `after`. */
  const linkRecord = (state: string, after = -1) =>
    records().findIndex((r, index) =>
      index > after && r.component === "radio" && r.port === RADIO && r.state === state
    );
  try {
    await waitFor("the link connected", () => linkRecord("connected") >= 0, 20_000);
    await waitFor("the HTTP address", () => records().some((r) => typeof r.url === "string"));
    const url = records().find((r) => typeof r.url === "string").url as string;
    await waitFor(
      "a broker warning",
      () => records().some((r) => r.level !== "info" && /mqtt|broker/i.test(r.msg)),
      20_000,
    );
    // Hostile requests: a foreign Host, a broken JSON body.
    // fetch() keeps its own Host header, so the foreign one goes over a raw connection.
    const address = new URL(url);
    const connection = await Deno.connect({
      hostname: address.hostname,
      port: Number(address.port),
    });
    await connection.write(
      new TextEncoder().encode(
        "GET /health HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
      ),
    );
    const answer = new TextDecoder().decode(await new Response(connection.readable).bytes());
    assert.match(answer, /^HTTP\/1\.1 421 /);
    const broken = await fetch(`${url}/graphql`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{",
    });
    await broken.body?.cancel();
    assert.ok(broken.status >= 400 && broken.status < 500);
    const health = await fetch(`${url}/health`);
    assert.equal(health.status, 200);
    await health.body?.cancel();

    // The stick is pulled, then plugged back in.
    const connected = linkRecord("connected");
    child.kill("SIGUSR2");
    await waitFor("the unplug logged", () => linkRecord("disconnected", connected) >= 0, 20_000);
    const unplugged = linkRecord("disconnected", connected);
    child.kill("SIGUSR2");
    await waitFor("the reconnect logged", () => linkRecord("connected", unplugged) >= 0, 20_000);
    const unplug = records()[unplugged];
    assert.equal(unplug.level, "warn");
    assert.equal(unplug.detail, "device hung up");
    assert.match(unplug.msg, /^radio: .*link disconnected/);
    assert.equal(records()[linkRecord("connected", unplugged)].level, "info");
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await streams;
    await Deno.remove(dir, { recursive: true });
  }
  assert.ok(records().some((r) => r.msg === "openseg: stopping"));
  for (const { stream, line } of lines) {
    let record;
    try {
      record = JSON.parse(line);
    } catch {
      assert.fail(`${stream}: not JSON: ${line}`);
    }
    assert.ok(record !== null && typeof record === "object" && !Array.isArray(record), line);
    assert.ok(!Number.isNaN(Date.parse(record.time)), line);
    assert.equal(typeof record.msg, "string", line);
    // Debug and info go to stdout, warn and error to stderr.
    const levels = stream === "stdout" ? ["debug", "info"] : ["warn", "error"];
    assert.ok(levels.includes(record.level), `${stream}: ${line}`);
  }
});
