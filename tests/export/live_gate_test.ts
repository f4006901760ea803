/**
 * The live gate of the MQTT exporter: history is not published live, and a burst of current
 * values on one topic becomes its first value at once and its newest after the interval.
 *
 * @module
 */

import assert from "node:assert/strict";
import { isHistory, liveGate } from "../../src/export/live_gate.ts";
import { waitFor } from "./fixtures.ts";

Deno.test("a burst on one topic: the first at once, the newest after the interval", async () => {
  const sent: [string, unknown][] = [];
  const gate = liveGate({
    publish: (topic, body) => sent.push([topic, body.n]),
    minIntervalMs: 100,
  });
  try {
    const nowMs = Date.now();
    for (let n = 0; n < 1000; n++) {
      gate.offer("a", { n }, { timeMs: nowMs, receivedAtMs: nowMs });
    }
    gate.offer("b", { n: 0 }, { timeMs: null, receivedAtMs: nowMs });
    assert.deepEqual(sent, [["a", 0], ["b", 0]]);
    await waitFor("the newest of the burst", () => sent.length === 3);
    assert.deepEqual(sent[2], ["a", 999]);
    // Nothing else was waiting.
    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.equal(sent.length, 3);
  } finally {
    gate.flush();
  }
});

Deno.test("history (old meter time on arrival) is not published live", () => {
  const sent: unknown[] = [];
  const gate = liveGate({ publish: (_topic, body) => sent.push(body), staleAfterMs: 60_000 });
  const nowMs = Date.now();
  gate.offer("a", { old: true }, { timeMs: nowMs - 48 * 3_600_000, receivedAtMs: nowMs });
  gate.offer("a", { old: true }, { timeMs: nowMs - 61_000, receivedAtMs: nowMs });
  assert.deepEqual(sent, []);
  gate.offer("a", { old: false }, { timeMs: nowMs - 59_000, receivedAtMs: nowMs });
  assert.deepEqual(sent, [{ old: false }]);
  gate.flush();
  // A meter clock ahead of the gateway's is not history.
  assert.equal(isHistory({ timeMs: nowMs + 3_600_000, receivedAtMs: nowMs }), false);
});

Deno.test("flush publishes what waits at once, and nothing later", async () => {
  const sent: unknown[] = [];
  const gate = liveGate({ publish: (_topic, body) => sent.push(body), minIntervalMs: 50 });
  const nowMs = Date.now();
  gate.offer("a", { n: 1 }, { timeMs: nowMs, receivedAtMs: nowMs });
  gate.offer("a", { n: 2 }, { timeMs: nowMs, receivedAtMs: nowMs });
  gate.offer("a", { n: 3 }, { timeMs: nowMs, receivedAtMs: nowMs });
  gate.flush();
  assert.deepEqual(sent, [{ n: 1 }, { n: 3 }]);
  await new Promise((resolve) => setTimeout(resolve, 120));
  assert.deepEqual(sent, [{ n: 1 }, { n: 3 }]);
});
