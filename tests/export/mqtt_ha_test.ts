/**
 * Home Assistant as users have it, against a real mosquitto: a new gateway's 48-hour backfill
 * reaches the broker as interval readings while the retained live topics get only a handful of
 * current values (HA records each live message as a state change), and renaming a meter through
 * the GraphQL API re-sends its discovery configs with the new device name.
 *
 * @module
 */

import assert from "node:assert/strict";
import { startMqttExport } from "../../src/export/mqtt.ts";
import { simulatedMacs } from "../../src/sources.ts";
import { usagePointIdFor } from "../../src/store/usage_points.ts";
import { startGatewayFixture } from "../graphql/fixture.ts";
import { startBroker, subscriber } from "./broker.ts";
import { simulatedGateway, storedMeterId, waitFor } from "./fixtures.ts";

const METER_KEY = simulatedMacs(0).meterMac;

function mqttConfig(url: string) {
  return { url, username: null, password: null, caFile: null, clientId: null, prefix: "openseg" };
}

Deno.test("a 48-hour backfill goes by the interval stream, not the retained live topics", async () => {
  const broker = await startBroker();
  const { client, messages } = await subscriber(broker.url, "openseg/#");
  const sim = await simulatedGateway({
    meters: 1,
    speed: 1,
    intervalMinutes: 5,
    backfillHours: 48,
  });
  const logs: string[] = [];
  const exporter = startMqttExport({
    db: sim.db,
    bus: sim.bus,
    config: mqttConfig(broker.url),
    softwareVersion: "0.0.0-test",
    log: (line) => logs.push(line),
  });
  try {
    const newestDemandMs = () =>
      (sim.db.prepare("SELECT max(ts_ms) AS t FROM demand WHERE meter_key = ?").get(METER_KEY) as {
        t: number | null;
      }).t ?? 0;
    await waitFor("the backfill to catch up", () => newestDemandMs() > Date.now() - 60_000, 60_000);
    // Read once the meter is stored: the ingest path assigns its usage point id.
    const meterId = usagePointIdFor(sim.db, METER_KEY);
    const base = `openseg/${exporter.gatewayId}/meter/${meterId}`;
    await waitFor(
      "the backfilled intervals on the interval topic",
      () => messages.filter((m) => m.topic === `${base}/interval`).length >= 500,
      60_000,
    );
    const stored = (sim.db.prepare("SELECT count(*) AS n FROM demand WHERE meter_key = ?")
      .get(METER_KEY) as { n: number }).n;
    assert.ok(stored > 10_000, `${stored} demand readings stored`);

    // Tens of thousands of demand readings were stored; the live topics saw a handful.
    for (const kind of ["demand", "summation", "price"]) {
      const live = messages.filter((m) => m.topic === `${base}/${kind}`);
      assert.ok(live.length <= 5, `${live.length} ${kind} messages`);
      if (kind === "price") continue;
      // Each measurement is a current value: its meter time close to when it was received.
      for (const message of live) {
        const body = JSON.parse(message.text);
        assert.ok(body.receivedAtMs - body.timeMs <= 10 * 60_000, message.text);
      }
    }
    assert.ok(messages.some((m) => m.topic === `${base}/demand`), "a current demand value");
    // The price in effect is the newest one stored, however old its meter time (read again on
    // each try: the running meter may publish a newer one meanwhile).
    const newestPriceMs = () =>
      (sim.db.prepare(
        "SELECT ts_ms AS timeMs FROM prices WHERE meter_key = ? ORDER BY ts_ms DESC LIMIT 1",
      ).get(METER_KEY) as { timeMs: number }).timeMs;
    await waitFor(
      "the price in effect",
      () =>
        JSON.parse(messages.findLast((m) => m.topic === `${base}/price`)?.text ?? "{}")
          .timeMs === newestPriceMs(),
      30_000,
    );
    assert.deepEqual(logs, []);
  } finally {
    await exporter.stop();
    await client.endAsync();
    await sim.close();
    await broker.close();
  }
});

Deno.test("renaming a meter renames its Home Assistant device", async () => {
  const broker = await startBroker();
  const fixture = await startGatewayFixture({ simulated: 1 });
  const exporter = startMqttExport({
    db: fixture.db,
    bus: fixture.bus,
    config: mqttConfig(broker.url),
    softwareVersion: "0.0.0-test",
    log: () => {},
  });
  const { client, messages } = await subscriber(broker.url, "homeassistant/#");
  try {
    const meterId = await storedMeterId(fixture.db, METER_KEY);
    const node = `openseg_${exporter.gatewayId}_${meterId}`;
    const names = () =>
      new Map(
        messages.filter((m) => m.topic.includes(`/${node}/`))
          .map((m) => [m.topic, JSON.parse(m.text).device.name]),
      );
    await waitFor("the meter's 6 configs", () => names().size === 6);
    assert.ok([...names().values()].every((name) => name === `Meter ${meterId}`));

    const reply = await fixture.graphql(
      "mutation ($id: ID!, $name: String) { renameMeter(id: $id, name: $name) { name } }",
      { variables: { id: meterId, name: "Garage" } },
    );
    assert.deepEqual(reply.data.renameMeter, { name: "Garage" });
    await waitFor(
      "every config with the new name",
      () => names().size === 6 && [...names().values()].every((name) => name === "Garage"),
    );

    // Retained: HA restarting later sees the new name.
    const late = await subscriber(broker.url, `homeassistant/+/${node}/+/config`);
    await waitFor("retained configs", () => late.messages.length === 6);
    assert.ok(late.messages.every((m) => JSON.parse(m.text).device.name === "Garage"));
    await late.client.endAsync();

    // Clearing the name goes back to the default.
    await fixture.graphql(
      "mutation ($id: ID!) { renameMeter(id: $id, name: null) { name } }",
      { variables: { id: meterId } },
    );
    await waitFor(
      "the default name again",
      () => [...names().values()].every((name) => name === `Meter ${meterId}`),
    );
  } finally {
    await exporter.stop();
    await client.endAsync();
    await fixture.close();
    await broker.close();
  }
});
