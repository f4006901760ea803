/**
 * `openseg decode`: NDJSON from a capture, from garbage, and the command's error paths.
 *
 * @module
 */

import { referenceFolder } from "../reference.ts";
import assert from "node:assert/strict";
import { decodeToNdjson, runDecode } from "../../src/cli/decode.ts";
import { UsageError } from "../../src/config/usage_error.ts";

const CAPTURES = referenceFolder("raven/");

async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function lines(bytes: Uint8Array, size = 37): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const line of decodeToNdjson(chunked(bytes, size))) {
    assert.ok(line.endsWith("\n") && !line.slice(0, -1).includes("\n"));
    out.push(JSON.parse(line));
  }
  return out;
}

Deno.test("a capture becomes one JSON line per fragment with units in the keys", async () => {
  const out = await lines(Deno.readFileSync(new URL("emu2-fragments-roachwork.txt", CAPTURES)));
  assert.deepEqual(out.map((l) => l.fragment), [
    "DeviceInfo",
    "ConnectionStatus",
    "InstantaneousDemand",
    "CurrentSummationDelivered",
    "PriceCluster",
  ]);
  assert.deepEqual(out[2], {
    fragment: "InstantaneousDemand",
    meter: "0x00078100007a175d",
    time: "2024-04-22T06:00:02.000Z",
    device: "0xd8d5b900000113ae",
    demandW: 1197,
    digitsRight: 3,
  });
  assert.equal(out[3].summationDeliveredWh, 156_762_302);
  assert.equal(out[4].pricePerKWh, 0.315);
  assert.equal(out[4].startTime, null);
  assert.ok(!("startTimeMs" in out[4]) && !("kind" in out[4]) && !("timeMs" in out[4]));
  assert.equal(out[0].time, null);
});

Deno.test("times become ISO strings in keys ending in Time", async () => {
  const out = await lines(Deno.readFileSync(new URL("mock-aioraven-all-fragments.txt", CAPTURES)));
  const time = out.find((l) => l.fragment === "TimeCluster")!;
  assert.equal(time.utcTime, "2022-03-11T00:47:35.000Z");
  assert.equal(time.localTime, "2022-03-10T16:47:35.000Z");
  const last = out.find((l) => l.fragment === "LastPeriodUsage")!;
  assert.equal(last.endTime, "2022-04-11T00:47:35.000Z");
});

Deno.test("garbled fragments give error lines; a truncated tail is reported", async () => {
  const garbage = await lines(
    Deno.readFileSync(new URL("garbage-rainforest-sample-lines.txt", CAPTURES)),
  );
  assert.equal(garbage.length, 1);
  assert.equal(garbage[0].fragment, "DeviceInfo");
  assert.match(String(garbage[0].error), /not well-formed/);

  const partial = await lines(
    Deno.readFileSync(new URL("mock-aioraven-leftovers-and-partial.txt", CAPTURES)),
  );
  assert.equal(partial.length, 4);
  assert.deepEqual(partial[3], { fragment: "DeviceInfo", error: "incomplete at end of input" });
});

Deno.test("warnings are included when a field does not parse", async () => {
  const xml = "<InstantaneousDemand><TimeStamp>soon</TimeStamp><Demand>0x10</Demand>" +
    "</InstantaneousDemand>";
  const [line] = await lines(new TextEncoder().encode(xml));
  assert.equal(line.demandW, 16_000);
  assert.equal(line.time, null);
  assert.equal((line.warnings as string[]).length, 1);
});

Deno.test("never crashes on random bytes", async () => {
  let state = 3;
  const bytes = new Uint8Array(200_000).map(() => {
    state = (state * 1103515245 + 12345) >>> 0;
    // Bias towards markup so random tags actually form.
    return state % 7 === 0 ? 0x3c : state % 11 === 0 ? 0x3e : state >>> 24;
  });
  for (const line of await lines(bytes, 1000)) {
    assert.ok("fragment" in line);
  }
});

Deno.test("runDecode: unreadable file → exit 1; bad option → UsageError; --help → 0", async () => {
  const originalError = console.error;
  const originalLog = console.log;
  const stderr: string[] = [];
  console.error = (...args: unknown[]) => stderr.push(args.join(" "));
  console.log = () => {};
  try {
    assert.equal(await runDecode(["/nonexistent/capture.txt"]), 1);
    assert.equal(stderr.length, 1);
    assert.match(stderr[0], /cannot read '\/nonexistent\/capture.txt'/);
    assert.equal(await runDecode(["--help"]), 0);
  } finally {
    console.error = originalError;
    console.log = originalLog;
  }
  await assert.rejects(() => runDecode(["--frobnicate"]), UsageError);
  await assert.rejects(() => runDecode(["a.txt", "b.txt"]), UsageError);
});
