/**
 * The gap repair protocol logic (`src/radio/gap_repair.ts`) against a meter scripted reply by
 * reply: how each Status is handled, windows and their order, the Received channel, a meter that
 * never answers. The end-to-end tests (`tests/e2e/gap_repair_test.ts`) run it over real ptys with
 * the simulated meter; these reach the answers the simulator does not give.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { RadioCommand } from "../../src/radio/commands.ts";
import type { ProfileDataEvent, SummationEvent } from "../../src/radio/events.ts";
import {
  type EstimatedInterval,
  GapRepairer,
  type GapRepairProblem,
  type MeterInterval,
} from "../../src/radio/gap_repair.ts";

const METER = "0x000781000081fd17";
const INTERVAL_MS = 300_000;
const T0 = Date.UTC(2025, 0, 1);

type Request = Extract<RadioCommand, { name: "getProfileData" }>;
/** The scripted meter: the reply to a request, or null for silence. */
type Script = (request: Request, index: number) => ProfileDataEvent | null;

function reply(request: Request, fields: Partial<ProfileDataEvent>): ProfileDataEvent {
  const periods = request.numberOfPeriods;
  return {
    fragment: "ProfileData",
    device: null,
    meter: METER,
    timeMs: request.endTimeMs!,
    kind: "profile",
    endTimeMs: request.endTimeMs!,
    status: 0,
    intervalS: 300,
    intervals: Array(periods).fill(7),
    intervalsWh: Array(periods).fill(7),
    ...fields,
  };
}

const summation: SummationEvent = {
  fragment: "CurrentSummationDelivered",
  device: null,
  meter: METER,
  timeMs: T0,
  kind: "summation",
  summationDeliveredWh: 1,
  summationReceivedWh: null,
  digitsRight: 1,
};

/** Runs one pass over `slots` estimated intervals with `script` as the meter. */
async function run(slots: EstimatedInterval[], script: Script, passes = 1) {
  const requests: Request[] = [];
  const stored: MeterInterval[] = [];
  const counted: GapRepairProblem[] = [];
  const warnings: string[] = [];
  let store = slots;
  const repairer: GapRepairer = new GapRepairer({
    port: "test",
    intervalS: 300,
    pauseMs: 0,
    replyTimeoutMs: 150,
    settleMs: 0,
    recheckMs: 0,
    send: (command) => {
      assert.equal(command.name, "getProfileData");
      const request = command as Request;
      requests.push(request);
      const answer = script(request, requests.length - 1);
      if (answer !== null) setTimeout(() => repairer.observe(answer), 1);
      return Promise.resolve();
    },
    estimated: (meter, fromMs, limit) => {
      assert.equal(meter, METER);
      return store.filter((slot) => slot.startMs >= fromMs).slice(0, limit);
    },
    store: (_meter, readings) => {
      stored.push(...readings);
      const done = new Set(readings.map((r) => r.startMs));
      store = store.filter((slot) => !done.has(slot.startMs));
    },
    count: (_meter, kind) => counted.push(kind),
    logger: { info: () => {}, warn: (line) => warnings.push(line) },
  });
  repairer.linkState("connected");
  for (let pass = 0; pass < passes; pass++) {
    repairer.observe(summation);
    // Every step of a pass is a timer of at most 150 ms: quiet for 250 ms means the pass is over.
    for (let check = 0; check < 100 && !(await idle(repairer)); check++);
  }
  await repairer.stop();
  return { requests, stored, counted, warnings };
}

/** True when no request was sent in the last 250 ms. */
async function idle(repairer: GapRepairer): Promise<boolean> {
  const before = repairer.stats.requests;
  await new Promise((resolve) => setTimeout(resolve, 250));
  return repairer.stats.requests === before;
}

function slots(count: number, receivedWh = 0): EstimatedInterval[] {
  return Array.from({ length: count }, (_, i) => ({
    startMs: T0 + i * INTERVAL_MS,
    durationS: 300,
    deliveredWh: 5,
    receivedWh,
  }));
}

Deno.test("windows: oldest first, 12 periods each, mapped back newest first", async () => {
  const { requests, stored } = await run(slots(30), (r) =>
    reply(r, {
      intervalsWh: Array.from({ length: r.numberOfPeriods }, (_, k) => r.endTimeMs! / 1e9 + k),
    }));
  assert.deepEqual(requests.map((r) => [(r.endTimeMs! - T0) / INTERVAL_MS, r.numberOfPeriods]), [
    [12, 12],
    [24, 12],
    [30, 6],
  ]);
  assert.equal(stored.length, 30);
  // The newest interval of a reply is the one just before its EndTime.
  const newest = stored.find((r) => r.startMs === T0 + 11 * INTERVAL_MS)!;
  assert.equal(newest.deliveredWh, (T0 + 12 * INTERVAL_MS) / 1e9);
  assert.equal(
    stored.find((r) => r.startMs === T0)!.deliveredWh,
    (T0 + 12 * INTERVAL_MS) / 1e9 + 11,
  );
});

Deno.test("Status 4: asks again with half as many periods", async () => {
  const { requests, stored, counted } = await run(
    slots(12),
    (r) =>
      r.numberOfPeriods > 6
        ? reply(r, { status: 4, intervals: [], intervalsWh: [] })
        : reply(r, {}),
  );
  assert.deepEqual(requests.map((r) => r.numberOfPeriods), [12, 6, 6]);
  assert.equal(stored.length, 12);
  assert.deepEqual(counted, ["profileRejected"]);
});

Deno.test("Status 3 and 5: that window stays estimated, the next is asked", async () => {
  const { requests, stored, counted, warnings } = await run(
    slots(36),
    (r, i) =>
      i < 2 ? reply(r, { status: i === 0 ? 5 : 3, intervals: [], intervalsWh: [] }) : reply(r, {}),
  );
  assert.equal(requests.length, 3);
  assert.deepEqual(
    stored.map((r) => (r.startMs - T0) / INTERVAL_MS),
    [...Array(12).keys()].map((k) => k + 24),
  );
  assert.deepEqual(counted, ["profileUnavailable", "profileUnavailable"]);
  assert.equal(warnings.length, 1, "logged once per kind");
});

Deno.test("export: the Received channel is asked; without it those intervals stay estimated", async () => {
  const both = await run(
    slots(3, 2),
    (r) =>
      reply(r, { intervalsWh: Array(r.numberOfPeriods).fill(r.channel === "Received" ? 1 : 9) }),
  );
  assert.deepEqual(both.requests.map((r) => r.channel), ["Delivered", "Received"]);
  assert.ok(both.stored.every((r) => r.deliveredWh === 9 && r.receivedWh === 1));

  const mixed = [...slots(2, 0), ...slots(4, 2).slice(2)];
  const none = await run(
    mixed,
    (r) =>
      r.channel === "Received"
        ? reply(r, { status: 2, intervals: [], intervalsWh: [] })
        : reply(r, {}),
  );
  // Intervals without export are repaired (0 Wh exported, known from the register).
  assert.deepEqual(none.stored.map((r) => [(r.startMs - T0) / INTERVAL_MS, r.receivedWh]), [
    [0, 0],
    [1, 0],
  ]);
  assert.deepEqual(none.counted, ["profileNoReceived"]);
});

Deno.test("a reply that does not fit the request is refused whole", async () => {
  const cases: [string, Script][] = [
    ["EndTime after the request", (r) => reply(r, { endTimeMs: r.endTimeMs! + INTERVAL_MS })],
    ["EndTime off the boundary", (r) => reply(r, { endTimeMs: r.endTimeMs! - 1000 })],
    [
      "more periods than asked",
      (r) => reply(r, { intervals: Array(13).fill(1), intervalsWh: Array(13).fill(1) }),
    ],
    ["no interval length", (r) => reply(r, { intervalS: null })],
    ["an undefined Status", (r) => reply(r, { status: 9 })],
  ];
  for (const [what, script] of cases) {
    const { stored, counted } = await run(slots(12), script);
    assert.deepEqual(stored, [], what);
    assert.deepEqual(counted, ["profileRejected"], what);
  }
});

Deno.test("another interval length, or a meter that never answers: not asked again, one warning", async () => {
  const mismatch = await run(slots(24), (r) => reply(r, { intervalS: 900 }), 2);
  assert.equal(mismatch.requests.length, 1);
  assert.deepEqual(mismatch.counted, ["profileIntervalMismatch"]);
  assert.match(mismatch.warnings[0], /15-minute intervals, the gateway 5-minute/);

  const silent = await run(slots(24), () => null, 5);
  // Each pass ends on its timeout; the third silence in a row gives up on the meter.
  assert.equal(silent.requests.length, 3);
  assert.deepEqual(silent.counted, [
    "profileTimeout",
    "profileTimeout",
    "profileTimeout",
    "profileUnsupported",
  ]);
  assert.equal(silent.warnings.length, 2);
  assert.match(silent.warnings[1], /no reply to 3 requests in a row/);
});
