/**
 * The console logger: JSON lines with `time`, `level`, `msg` and the fields; text as the bare
 * message; level filtering. Then `serve --log-format json` as a subprocess: every line it prints is
 * a JSON object, including the link state, and `/healthz` at the logged address answers.
 *
 * @module
 */

import assert from "node:assert/strict";
import { loadServeConfig } from "../../src/config.ts";
import { createLogger, type LogLevel } from "../../src/log.ts";
import { waitFor } from "../e2e/helpers.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** `openseg serve --simulate --log-format json` on a free loopback port, both streams piped. */
function serveInJson(dir: string, extraArgs: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-ffi",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      "--allow-net=127.0.0.1",
      MAIN,
      "serve",
      "--simulate",
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
  const child = serveInJson(dir, ["--speed", "60"]);
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

Deno.test("serve --log-format json: an unreachable broker and hostile requests still give JSON on both streams", async () => {
  const dir = await Deno.makeTempDir({ prefix: "openseg-log-" });
  // A port nothing listens on: the MQTT export fails to connect and says so.
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const brokerPort = (closed.addr as Deno.NetAddr).port;
  closed.close();
  const child = serveInJson(dir, ["--mqtt-url", `mqtt://127.0.0.1:${brokerPort}`]);
  const lines: string[] = [];
  const read = (stream: ReadableStream<Uint8Array<ArrayBuffer>>) =>
    (async () => {
      let buffered = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        buffered += chunk;
        const complete = buffered.split("\n");
        buffered = complete.pop()!;
        lines.push(...complete);
      }
      if (buffered !== "") lines.push(buffered);
    })();
  const streams = Promise.all([read(child.stdout), read(child.stderr)]);
  const records = () => lines.flatMap((line) => line.startsWith("{") ? [JSON.parse(line)] : []);
  try {
    await waitFor(
      "the HTTP address",
      () => records().some((r) => typeof r.url === "string"),
      20_000,
    );
    const url = records().find((r) => typeof r.url === "string").url as string;
    await waitFor(
      "a broker warning",
      () => records().some((r) => r.level !== "info" && /mqtt|broker/i.test(r.msg)),
      20_000,
    );
    // Hostile requests: a foreign Host, a broken JSON body, a redirect target with a control byte.
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
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await streams;
    await Deno.remove(dir, { recursive: true });
  }
  assert.ok(lines.length > 3);
  for (const line of lines.filter((line) => line.trim() !== "")) {
    const record = JSON.parse(line);
    assert.equal(typeof record.msg, "string", line);
    assert.ok(["debug", "info", "warn", "error"].includes(record.level), line);
  }
});
