/**
 * Tests for `src/radio/meter_identity.ts`: which meter ids count as real, what is held back, and
 * that the held events stay bounded and are released in order or dropped.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { MeterEvent } from "../../src/radio/events.ts";
import { type GateOutcome, MeterIdentityGate } from "../../src/radio/meter_identity.ts";

function demandOf(meter: string | null, demandW: number): MeterEvent {
  return {
    kind: "demand",
    fragment: "InstantaneousDemand",
    device: "0xd1",
    meter,
    timeMs: demandW,
    demandW,
    digitsRight: 3,
  };
}

function meterList(meters: string[]): MeterEvent {
  return {
    kind: "meterList",
    fragment: "MeterList",
    device: "0xd1",
    meter: null,
    timeMs: null,
    meters,
  };
}

/** Demand values (W) of the events an outcome passes and drops. */
function values(outcome: GateOutcome): { pass: (number | string)[]; dropped: number[] } {
  const w = (e: MeterEvent) => e.kind === "demand" ? e.demandW ?? NaN : e.kind;
  return {
    pass: outcome.pass.map((r) => w(r.event)),
    dropped: outcome.dropped.map((r) => w(r.event) as number),
  };
}

Deno.test("identity: three agreeing fragments confirm a meter; held events come out in order", () => {
  const gate = new MeterIdentityGate();
  assert.deepEqual(values(gate.admit(demandOf("0xa", 1), 1)), { pass: [], dropped: [] });
  assert.deepEqual(values(gate.admit(demandOf("0xa", 2), 2)), { pass: [], dropped: [] });
  assert.equal(gate.heldEvents, 2);
  assert.deepEqual(values(gate.admit(demandOf("0xa", 3), 3)), { pass: [1, 2, 3], dropped: [] });
  assert.deepEqual([...gate.confirmed], ["0xa"]);
  assert.deepEqual(values(gate.admit(demandOf("0xa", 4), 4)), { pass: [4], dropped: [] });
  // Events without a meter id are not the gate's business.
  assert.deepEqual(values(gate.admit(demandOf(null, 5), 5)), { pass: [5], dropped: [] });
});

Deno.test("identity: an announcement confirms at once and releases what was held", () => {
  const gate = new MeterIdentityGate();
  gate.admit(demandOf("0xb", 1), 1);
  assert.deepEqual(values(gate.admit(meterList(["0xb", "0xc"]), 2)), {
    pass: [1, "meterList"],
    dropped: [],
  });
  assert.deepEqual(values(gate.admit(demandOf("0xc", 3), 3)), { pass: [3], dropped: [] });
});

Deno.test("identity: a candidate not confirmed within the window is dropped", () => {
  const gate = new MeterIdentityGate({ agreements: 3, windowEvents: 5 });
  for (let w = 1; w <= 3; w++) gate.admit(demandOf("0xa", w), w);
  gate.admit(demandOf("0xbad", 100), 4);
  gate.admit(demandOf("0xa", 4), 5);
  gate.admit(demandOf("0xa", 5), 6);
  gate.admit(demandOf("0xa", 6), 7);
  gate.admit(demandOf("0xbad", 101), 8);
  assert.equal(gate.heldEvents, 2);
  // Five meter-scoped events after it first showed up, the phantom is given up.
  assert.deepEqual(values(gate.admit(demandOf("0xa", 7), 9)), { pass: [7], dropped: [100, 101] });
  assert.equal(gate.heldEvents, 0);
  assert.deepEqual([...gate.confirmed], ["0xa"]);
});

Deno.test("identity: held events stay bounded; the oldest candidate gives way", () => {
  const gate = new MeterIdentityGate({ agreements: 3, windowEvents: 1000, maxCandidates: 4 });
  const dropped: number[] = [];
  for (let i = 0; i < 100; i++) {
    const outcome = gate.admit(demandOf(`0x${i}`, i), i);
    assert.deepEqual(outcome.pass, []);
    dropped.push(...values(outcome).dropped);
    assert.ok(gate.heldEvents <= 4 * 2);
  }
  assert.deepEqual(dropped, Array.from({ length: 96 }, (_, i) => i));
  assert.equal(gate.confirmed.size, 0);
});
