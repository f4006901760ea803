/**
 * MQTT in a building, against a real mosquitto: two households, three simulated meters
 * (`tests/building.ts`). Only the household that turned its export switch on (through the GraphQL
 * mutation, as its dashboard does) reaches the broker, with its readings from that moment on; the
 * other household's meter never appears in any topic or payload. Turned off, the household's
 * retained topics (Home Assistant discovery configs and latest values) are cleared at once and
 * nothing more of its meters is published: a subscriber arriving afterwards finds nothing.
 *
 * @module
 */

import assert from "node:assert/strict";
import { startMqttExport } from "../../src/export/mqtt.ts";
import { makeBuilding } from "../building.ts";
import { countRows } from "../e2e/helpers.ts";
import { startGatewayFixture, waitForMeters } from "../graphql/fixture.ts";
import { type Received, startBroker, subscriber } from "./broker.ts";
import { waitFor } from "./fixtures.ts";

function mqttConfig(url: string) {
  return { url, username: null, password: null, caFile: null, clientId: null, prefix: "openseg" };
}

/** Every message naming one of `needles` in its topic or payload. */
const naming = (messages: Received[], needles: string[]) =>
  messages.filter((m) =>
    needles.some((needle) => m.topic.includes(needle) || m.text.includes(needle))
  );

Deno.test("building: only the allowing household's meters reach the broker; withdrawn, they vanish", async () => {
  const broker = await startBroker();
  // At 120× a 5-minute interval completes every 2.5 s of wall time.
  const fixture = await startGatewayFixture({ simulated: 3, speed: 120 });
  const { client, messages } = await subscriber(broker.url, "#");
  let exporter: ReturnType<typeof startMqttExport> | null = null;
  let late: Awaited<ReturnType<typeof subscriber>> | null = null;
  try {
    await waitForMeters(fixture, 3);
    const { a, b } = makeBuilding(fixture.db);
    const asA = { as: null, headers: { Cookie: a.cookie } };
    const on = await fixture.graphql(
      "mutation { setExportAllowed(allowed: true) { exportAllowedSince } }",
      asA,
    );
    const sinceMs = Date.parse(on.data.setExportAllowed.exportAllowedSince);
    exporter = startMqttExport({
      db: fixture.db,
      bus: fixture.bus,
      config: mqttConfig(broker.url),
      softwareVersion: "0.0.0-test",
      log: () => {},
    });
    const gatewayId = exporter.gatewayId;
    const base = `openseg/${gatewayId}/meter`;
    const node = (meterId: string) => `openseg_${gatewayId}_${meterId}`;
    await waitFor(
      "A's meters' intervals, latest demand and discovery",
      () =>
        a.meterIds.every((id) =>
          ["interval", "demand"].every((kind) =>
            messages.some((m) => m.topic === `${base}/${id}/${kind}`)
          ) && messages.some((m) => m.topic.includes(`/${node(id)}/`))
        ),
      30_000,
    );
    // Only readings measured since A allowed it: the 2 hours of backfill before stayed home.
    const ofA = naming(messages, a.meterIds);
    const intervals = ofA.filter((m) => m.topic.endsWith("/interval"));
    assert.ok(intervals.length > 0);
    for (const message of intervals) {
      assert.ok(JSON.parse(message.text).startMs >= sinceMs, message.text);
    }
    for (const message of ofA.filter((m) => m.topic.endsWith("/demand"))) {
      assert.ok(JSON.parse(message.text).timeMs >= sinceMs, message.text);
    }

    // A turns it off: each of its meters' 6 configs and 4 latest values is cleared at once.
    const offAt = messages.length;
    const off = await fixture.graphql(
      "mutation { setExportAllowed(allowed: false) { exportAllowed } }",
      asA,
    );
    assert.deepEqual(off.data, { setExportAllowed: { exportAllowed: false } });
    const cleared = (id: string) =>
      new Set(
        naming(messages.slice(offAt), [id]).filter((m) => m.text === "").map((m) => m.topic),
      );
    await waitFor(
      "A's retained topics cleared",
      () => a.meterIds.every((id) => cleared(id).size === 10),
    );
    const clearedAt = messages.length;
    // The gateway keeps storing A's readings (two more intervals of each meter) …
    const storedNow = a.meterKeys.map((key) => countRows(fixture.db, "intervals", key));
    await waitFor(
      "two more intervals of A's meters stored",
      () =>
        a.meterKeys.every((key, i) => countRows(fixture.db, "intervals", key) >= storedNow[i] + 2),
      30_000,
    );
    // … and none of them, nor any other value of A's meters, reached the broker after the clear.
    assert.deepEqual(naming(messages.slice(clearedAt), a.meterIds), []);
    assert.deepEqual(
      naming(messages.slice(offAt), a.meterIds).filter((m) => m.text !== ""),
      [],
      "nothing but the clearing after the switch was turned off",
    );

    // A subscriber arriving now finds no retained topic of A's meters; a marker it publishes
    // itself after subscribing arrives after whatever the broker retained.
    late = await subscriber(broker.url, "#");
    await late.client.publishAsync("openseg/test/marker", "end", { qos: 1 });
    await waitFor(
      "the marker",
      () => late!.messages.some((m) => m.topic === "openseg/test/marker"),
    );
    assert.ok(late.messages.some((m) => m.topic === `openseg/${gatewayId}/status`));
    assert.deepEqual(naming(late.messages, [...a.meterIds, ...b.meterIds]), []);

    // B never allowed it: its meter id and its MAC never appeared in any topic or payload.
    assert.deepEqual(naming(messages, [...b.meterIds, ...b.meterKeys]), []);

    // B allows it now, while the exporter runs: its meter is announced at once and its readings
    // follow, from this moment on.
    const bOn = await fixture.graphql(
      "mutation { setExportAllowed(allowed: true) { exportAllowedSince } }",
      { as: null, headers: { Cookie: b.cookie } },
    );
    const bSinceMs = Date.parse(bOn.data.setExportAllowed.exportAllowedSince);
    const [bMeter] = b.meterIds;
    await waitFor(
      "B's discovery and an interval",
      () =>
        messages.filter((m) => m.topic.includes(`/${node(bMeter)}/`)).length >= 6 &&
        messages.some((m) => m.topic === `${base}/${bMeter}/interval`),
      30_000,
    );
    for (const message of messages.filter((m) => m.topic === `${base}/${bMeter}/interval`)) {
      assert.ok(JSON.parse(message.text).startMs >= bSinceMs, message.text);
    }
  } finally {
    await exporter?.stop();
    await late?.client.endAsync();
    await client.endAsync();
    await fixture.close();
    await broker.close();
  }
});

Deno.test("building: a household that withdraws while the broker is away is cleared on reconnect", async () => {
  // Persistent: the broker keeps its retained topics across the restart, as a real one does.
  const broker = await startBroker({ persistent: true });
  const fixture = await startGatewayFixture({ simulated: 3, speed: 30 });
  let exporter: ReturnType<typeof startMqttExport> | null = null;
  try {
    await waitForMeters(fixture, 3);
    const { a } = makeBuilding(fixture.db);
    const asA = { as: null, headers: { Cookie: a.cookie } };
    await fixture.graphql("mutation { setExportAllowed(allowed: true) { id } }", asA);
    exporter = startMqttExport({
      db: fixture.db,
      bus: fixture.bus,
      config: mqttConfig(broker.url),
      softwareVersion: "0.0.0-test",
      reconnectPeriodMs: 100,
      log: () => {},
    });
    /** What the broker retains of A's meters, as a new subscriber gets it. */
    const retainedOfA = async (): Promise<Received[]> => {
      const probe = await subscriber(broker.url, "#");
      try {
        // Published after subscribing, the marker arrives after whatever the broker retained.
        await probe.client.publishAsync("openseg/test/marker", "end", { qos: 1 });
        await waitFor("the marker", () => probe.messages.some((m) => m.topic.endsWith("/marker")));
        return naming(probe.messages, a.meterIds).filter((m) => m.retain && m.text !== "");
      } finally {
        await probe.client.endAsync();
      }
    };
    /** Probes until `done` holds of what is retained (at most 100 times); returns the last. */
    const probeUntil = async (done: (retained: Received[]) => boolean) => {
      let retained = await retainedOfA();
      for (let probe = 0; probe < 100 && !done(retained); probe++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        retained = await retainedOfA();
      }
      return retained;
    };
    // Both meters' discovery configs and latest demand are retained on the broker.
    const complete = (retained: Received[]) =>
      a.meterIds.every((id) =>
        retained.some((m) => m.topic.endsWith(`/${id}/demand`)) &&
        retained.filter((m) => m.topic.startsWith("homeassistant/") && m.topic.includes(id))
            .length === 6
      );
    const before = await probeUntil(complete);
    assert.ok(complete(before), JSON.stringify(before.map((m) => m.topic)));

    await broker.stop();
    await waitFor("the exporter to notice", () => !exporter!.status().connected);
    const off = await fixture.graphql("mutation { setExportAllowed(allowed: false) { id } }", asA);
    assert.deepEqual(off.errors, []);
    await broker.start();
    await waitFor("the exporter back", () => exporter!.status().connected, 30_000);
    // Cleared on reconnect: a subscriber now finds nothing of A's meters.
    const after = await probeUntil((retained) => retained.length === 0);
    assert.deepEqual(after.map((m) => m.topic), []);
  } finally {
    await exporter?.stop();
    await fixture.close();
    await broker.close();
  }
});
