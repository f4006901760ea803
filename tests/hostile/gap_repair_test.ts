/**
 * Hostile answers to `get_profile_data`, over a real pseudo-terminal into a running gateway: the
 * test plays the radio, opens a six-hour gap with its summations and answers every request the
 * gap repair sends with something wrong — a fragment that is not XML, values that are not hex,
 * counts beyond a uint24 or implausible once scaled, counts that disagree, a misaligned EndTime,
 * 13 periods. Each is counted; none changes a stored interval. The last, sound answer is stored.
 *
 * @module
 */

import { createLogger } from "../../src/log.ts";
import assert from "node:assert/strict";
import type { DatabaseSync } from "node:sqlite";
import { startGateway } from "../../src/gateway.ts";
import type { RadioCommand } from "../../src/radio/commands.ts";
import { FragmentSplitter } from "../../src/radio/raven/framing.ts";
import { parseCommand } from "../../src/radio/raven/commands.ts";
import { openDatabase } from "../../src/store/db.ts";
import { QUALITY_CODES } from "../../src/store/migrations.ts";
import { ScriptedPort, waitFor } from "../e2e/helpers.ts";

const DEVICE = "0xd8d5b9000000beef";
const METER = "0x0013500100beef01";
const MINUTE_MS = 60_000;
const RAVEN_EPOCH_S = 946_684_800;
const T0 = Date.UTC(2025, 0, 1);
/** The gap: no reading from T0 + 10 min until six hours later (72 five-minute intervals). */
const GAP_FROM_MS = T0 + 10 * MINUTE_MS;
const GAP_TO_MS = GAP_FROM_MS + 6 * 60 * MINUTE_MS;

type ProfileRequest = Extract<RadioCommand, { name: "getProfileData" }>;

function ts(ms: number): string {
  return "0x" + (Math.floor(ms / 1000) - RAVEN_EPOCH_S).toString(16).padStart(8, "0");
}

function fragment(root: string, children: [string, string][]): string {
  const lines = children.map(([name, text]) => `  <${name}>${text}</${name}>`);
  return [`<${root}>`, ...lines, `</${root}>`, ""].join("\r\n");
}

/** A summation of 10 Wh per minute since T0, in raw Wh (Divisor 1000 → kWh). */
function summation(ms: number): string {
  const wh = 5_000_000 + Math.round((ms - T0) / MINUTE_MS) * 10;
  return fragment("CurrentSummationDelivered", [
    ["DeviceMacId", DEVICE],
    ["MeterMacId", METER],
    ["TimeStamp", ts(ms)],
    ["SummationDelivered", "0x" + wh.toString(16).padStart(16, "0")],
    ["Multiplier", "0x00000001"],
    ["Divisor", "0x000003e8"],
    ["DigitsRight", "0x01"],
    ["DigitsLeft", "0x06"],
    ["SuppressLeadingZero", "Y"],
  ]);
}

function profile(options: {
  endMs: number;
  status?: string;
  delivered?: string;
  values: string[];
}): string {
  return fragment("ProfileData", [
    ["DeviceMacId", DEVICE],
    ["MeterMacId", METER],
    ["EndTime", ts(options.endMs)],
    ["Status", options.status ?? "0x00"],
    ["ProfileIntervalPeriod", "6"],
    ["NumberOfPeriodsDelivered", options.delivered ?? "0x0c"],
    ...options.values.map((value): [string, string] => ["IntervalData", value]),
  ]);
}

const TWELVE_VALID = Array(12).fill("0x000032");

/** The hostile answers, in the order the requests come (oldest window first). */
const ANSWERS: ((request: ProfileRequest) => string)[] = [
  // Not well-formed: a decode error, so no reply; the pass ends on the timeout and starts again.
  () => "<ProfileData><Status>0x00</Status><IntervalData>0x32</ProfileData>\r\n",
  // Values that are no hex numbers.
  (r) => profile({ endMs: r.endTimeMs!, values: [...Array(11).fill("0x000032"), "garbage"] }),
  // Beyond a uint24, and a uint24 that is 16.7 MWh in five minutes once scaled.
  (r) =>
    profile({
      endMs: r.endTimeMs!,
      values: ["0x1000000", "0xfffffe", ...Array(10).fill("0x000032")],
    }),
  // A count that disagrees with the values sent.
  (r) => profile({ endMs: r.endTimeMs!, values: ["0x000032", "0x000032", "0x000032"] }),
  // An EndTime that is no interval boundary.
  (r) => profile({ endMs: r.endTimeMs! + 17_000, values: TWELVE_VALID }),
  // Thirteen periods, though at most twelve may come.
  (r) => profile({ endMs: r.endTimeMs!, delivered: "0x0d", values: Array(13).fill("0x000032") }),
  // A sound answer: stored.
  (r) => profile({ endMs: r.endTimeMs!, values: TWELVE_VALID }),
];

/** Reads the gateway's commands on the master and answers each `get_profile_data` in turn. */
async function answerRequests(device: ScriptedPort, requests: ProfileRequest[]): Promise<void> {
  const splitter = new FragmentSplitter();
  while (device.master.isOpen) {
    const bytes = await device.master.read(50).catch(() => null);
    if (bytes === null) return;
    for (const xml of splitter.push(bytes)) {
      const command = parseCommand(xml);
      if (command?.name !== "getProfileData") continue;
      requests.push(command);
      const answer = ANSWERS[requests.length - 1];
      if (answer) await device.write(answer(command));
    }
  }
}

function intervalRows(db: DatabaseSync) {
  return db.prepare(
    `SELECT start_ms, delivered_wh, received_wh, quality, source FROM intervals
     WHERE meter_key = ? ORDER BY start_ms`,
  ).all(METER) as unknown as {
    start_ms: number;
    delivered_wh: number;
    received_wh: number;
    quality: number;
    source: number;
  }[];
}

function warnings(db: DatabaseSync): Record<string, number> {
  const rows = db.prepare("SELECT kind, sum(count) AS n FROM warnings GROUP BY kind").all() as {
    kind: string;
    n: number;
  }[];
  return Object.fromEntries(rows.map((row) => [row.kind, row.n]));
}

Deno.test("hostile ProfileData answers are counted and change no stored interval", async () => {
  const dir = await Deno.makeTempDir({ prefix: "openseg-hostile-gap-" });
  const db = openDatabase(`${dir}/gateway.db`);
  const device = new ScriptedPort();
  const logs: string[] = [];
  const gateway = startGateway({
    db,
    ports: [device.source],
    retentionHours: 48,
    intervalMinutes: 5,
    pollSeconds: 3600,
    log: createLogger({ format: "text", level: "info", write: (line) => logs.push(line) }),
    // A pass on every summation, so the test restarts one after the timeout by sending one.
    gapRepair: { pauseMs: 10, replyTimeoutMs: 300, settleMs: 50, recheckMs: 0 },
  });
  const requests: ProfileRequest[] = [];
  const answering = answerRequests(device, requests);
  let before: ReturnType<typeof intervalRows> = [];
  try {
    await waitFor("link up", () => gateway.supervisors[0].state === "initializing");
    // Readings every minute for ten minutes, none for six hours, then every minute again. The
    // store has to settle first: otherwise a pass could start before the gap is derived.
    for (let ms = T0; ms <= GAP_FROM_MS; ms += MINUTE_MS) await device.write(summation(ms));
    await waitFor("readings before the gap", () => intervalRows(db).length === 2);
    before = intervalRows(db);
    for (let ms = GAP_TO_MS; ms <= GAP_TO_MS + 10 * MINUTE_MS; ms += MINUTE_MS) {
      await device.write(summation(ms));
    }
    await waitFor("the timeout", () => (warnings(db).profileTimeout ?? 0) === 1);
    await device.write(summation(GAP_TO_MS + 11 * MINUTE_MS));
    await waitFor("every answer", () => requests.length === ANSWERS.length);
    await waitFor(
      "the sound answer stored",
      () => intervalRows(db).some((row) => row.source === 1),
    );
  } finally {
    await gateway.stop();
    await device.close();
    await answering;
  }
  const rows = intervalRows(db);
  const estimated = rows.filter((row) => row.start_ms >= GAP_FROM_MS && row.start_ms < GAP_TO_MS);
  assert.equal(estimated.length, 72);
  // The first five windows (60 intervals, oldest first) saw only hostile answers: untouched, and
  // exactly as derived (3600 Wh spread evenly: 50 Wh each).
  const hostileWindows = estimated.slice(0, 60);
  for (const row of hostileWindows) {
    assert.equal(row.quality, QUALITY_CODES.estimated, `quality at ${row.start_ms}`);
    assert.equal(row.source, 0);
    assert.ok(Math.abs(row.delivered_wh - 50) < 1e-9, `${row.delivered_wh} Wh at ${row.start_ms}`);
  }
  // The sound answer repaired its window, and only that one.
  const repaired = estimated.slice(60);
  assert.deepEqual(
    repaired.map((row) => [row.quality, row.source, row.delivered_wh]),
    Array(12).fill([QUALITY_CODES.valid, 1, 50]),
  );
  // Rows outside the gap kept what they had before any answer.
  assert.deepEqual(rows.filter((row) => row.start_ms < GAP_FROM_MS), before);
  const requestEnds = requests.map((r) => r.endTimeMs! - GAP_FROM_MS);
  // The timeout repeats the first window; then one window after the other, twelve periods each.
  assert.deepEqual(requestEnds, [60, 60, 120, 180, 240, 300, 360].map((m) => m * MINUTE_MS));
  assert.ok(requests.every((r) => r.numberOfPeriods === 12 && r.channel === "Delivered"));

  const counted = warnings(db);
  assert.equal(counted.profileTimeout, 1);
  assert.ok((counted.decodeError ?? 0) >= 1, JSON.stringify(counted));
  // Garbage, beyond uint24, implausible once scaled, wrong count, 13 periods: each a warning ...
  assert.ok((counted.fieldWarning ?? 0) >= 5, JSON.stringify(counted));
  // ... and each, with the misaligned EndTime, a reply refused as a whole.
  assert.equal(counted.profileRejected, 5, JSON.stringify(counted));
  // Rows after the gap, from readings a minute apart, stay as derived.
  const after = rows.filter((row) => row.start_ms >= GAP_TO_MS);
  assert.ok(after.length > 0 && after.every((row) => row.source === 0));
  db.close();
  await Deno.remove(dir, { recursive: true });
});
