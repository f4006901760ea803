/**
 * Store-and-forward against a real mosquitto: the broker is stopped while the gateway keeps
 * storing, then restarted; every interval reading must arrive exactly once and in order, matching
 * the store. The subscriber keeps a persistent session on a persistent broker, so what it missed
 * while the broker was down is queued for it, not lost to the test.
 *
 * @module
 */

import assert from "node:assert/strict";
import { MQTT_SINK, startMqttExport } from "../../src/export/mqtt.ts";
import { simulatedMacs } from "../../src/sources.ts";
import { pendingIntervals } from "../../src/store/export_cursor.ts";
import { usagePointIdFor } from "../../src/store/usage_points.ts";
import { startBroker, subscriber } from "./broker.ts";
import { simulatedGateway, waitFor } from "./fixtures.ts";

Deno.test("broker down then back: every interval reading arrives once, in order", async () => {
  const broker = await startBroker({ persistent: true });
  // Subscribed first: interval readings are not retained, and the test wants every one.
  const { client, messages } = await subscriber(broker.url, "openseg/+/meter/+/interval", {
    clientId: "forward-test",
    clean: false,
  });
  // 1-minute intervals at 600x: about ten complete intervals per second per meter.
  const sim = await simulatedGateway({ meters: 2, speed: 600, intervalMinutes: 1 });
  const logs: string[] = [];
  const exporter = startMqttExport({
    db: sim.db,
    bus: sim.bus,
    config: {
      url: broker.url,
      username: null,
      password: null,
      caFile: null,
      clientId: null,
      prefix: "openseg",
    },
    softwareVersion: "0.0.0-test",
    reconnectPeriodMs: 200,
    log: (line) => logs.push(line),
  });
  try {
    // The broker re-delivers to this persistent subscriber what it sent just before it stopped
    // (flagged DUP): that is the subscription's own at-least-once, not a second send by the
    // exporter, so a re-delivered copy of an already received message is not counted.
    const intervals = () => {
      const seen = new Set<string>();
      return messages.filter((m) => {
        if (!m.topic.endsWith("/interval")) return false;
        const copy = m.dup && seen.has(m.text);
        seen.add(m.text);
        return !copy;
      });
    };
    await waitFor("20 interval readings", () => intervals().length >= 20, 15_000);

    await broker.stop();
    await waitFor("the exporter to notice", () => !exporter.status().connected);
    await waitFor("a backlog of 40", () => exporter.backlogIntervals() >= 40, 15_000);
    assert.ok(logs.some((line) => line.includes("lost the connection")), logs.join("\n"));

    await broker.start();
    // `connected` is the client's flag, `reconnects` counted in its "connect" handler: wait for both.
    await waitFor(
      "reconnected",
      () => exporter.status().connected && exporter.status().reconnects > 0 && client.connected,
      10_000,
    );
    assert.equal(exporter.status().reconnects, 1);
    await sim.stop();
    // Everything the store completed has been acknowledged and received.
    await waitFor("backlog drained", () => exporter.backlogIntervals() === 0, 15_000);
    const expectedCount = [0, 1].map((i) =>
      sim.db.prepare(
        `SELECT count(*) AS n FROM intervals WHERE meter_key = ? AND start_ms + duration_s * 1000
         <= (SELECT max(ts_ms) FROM summation WHERE meter_key = ?)`,
      ).get(simulatedMacs(i).meterMac, simulatedMacs(i).meterMac) as { n: number }
    ).reduce((sum, row) => sum + row.n, 0);
    await waitFor("every reading received", () => intervals().length >= expectedCount, 10_000);
    // Give a duplicate the chance to show up.
    await new Promise((resolve) => setTimeout(resolve, 300));

    for (const i of [0, 1]) {
      const meterKey = simulatedMacs(i).meterMac;
      const meterId = usagePointIdFor(sim.db, meterKey);
      const received = intervals()
        .filter((m) => m.topic === `openseg/${exporter.gatewayId}/meter/${meterId}/interval`)
        .map((m) => JSON.parse(m.text));
      // The store's view, re-read from scratch as an unsent backlog would be.
      sim.db.prepare("DELETE FROM export_cursors WHERE sink = ? AND meter_key = ?")
        .run(MQTT_SINK, meterKey);
      const stored = pendingIntervals(sim.db, { sink: MQTT_SINK, meterKey, limit: 100_000 });
      assert.ok(stored.length >= 20, `meter ${i}: ${stored.length} intervals`);
      const keys = received.map((r) => r.key);
      assert.equal(new Set(keys).size, keys.length, `meter ${i}: no duplicates`);
      assert.deepEqual(
        received.map((r) => r.startMs),
        stored.map((s) => s.startMs),
        `meter ${i}: all, in order`,
      );
      assert.deepEqual(
        received.map((r) => [r.deliveredWh, r.receivedWh, r.quality, r.durationS]),
        stored.map((s) => [s.deliveredWh, s.receivedWh, s.quality, s.durationS]),
      );
      assert.equal(received[0].key, `${exporter.gatewayId}/${meterId}/${stored[0].startMs}/60`);
    }
  } finally {
    await exporter.stop();
    await client.endAsync();
    await sim.close();
    await broker.close();
  }
});
