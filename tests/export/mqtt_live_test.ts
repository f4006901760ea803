/**
 * MQTT export against a real mosquitto, fed by a simulated meter through the whole gateway:
 * retained latest values that match the store, availability (birth/last will), link state,
 * Home Assistant discovery payloads (shape, retained, the gateway as a hub), their republishing when
 * HA announces itself after a restart and when the owner renames a meter, a 48-hour backfill that
 * does not flood the retained live topics, and no MAC address in any topic.
 *
 * @module
 */

import assert from "node:assert/strict";
import { startMqttExport } from "../../src/export/mqtt.ts";
import { simulatedMacs } from "../../src/sources.ts";
import { latestReadings } from "../../src/store/queries.ts";
import { usagePointIdFor } from "../../src/store/usage_points.ts";
import { startBroker, subscriber } from "./broker.ts";
import { simulatedGateway, storedMeterId, waitFor } from "./fixtures.ts";

const METER_KEY = simulatedMacs(0).meterMac;

Deno.test("live values, link state and availability reach subscribers, retained", async () => {
  const broker = await startBroker();
  const sim = await simulatedGateway({ meters: 1, speed: 600, intervalMinutes: 5 });
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
      prefix: "test/openseg",
    },
    softwareVersion: "0.0.0-test",
    log: (line) => logs.push(line),
  });
  const { client, messages } = await subscriber(broker.url, "test/openseg/#");
  try {
    const base = `test/openseg/${exporter.gatewayId}`;
    const meterId = await storedMeterId(sim.db, METER_KEY);
    const last = (topic: string) => messages.findLast((m) => m.topic === topic);
    await waitFor(
      "demand, summation and link",
      () =>
        last(`${base}/meter/${meterId}/demand`) !== undefined &&
        last(`${base}/meter/${meterId}/summation`) !== undefined &&
        last(`${base}/link/sim_0`) !== undefined,
      15_000,
    );
    assert.equal(last(`${base}/status`)?.text, "online");
    assert.equal(JSON.parse(last(`${base}/link/sim_0`)!.text).state, "connected");
    assert.equal(exporter.clientId, `openseg-${exporter.gatewayId}`);

    // What was published live is what the store holds (published after commit).
    const demand = JSON.parse(last(`${base}/meter/${meterId}/demand`)!.text);
    const row = sim.db.prepare("SELECT demand_w FROM demand WHERE meter_key = ? AND ts_ms = ?")
      .get(METER_KEY, demand.timeMs) as { demand_w: number } | undefined;
    assert.equal(row?.demand_w, demand.demandW);
    const summation = JSON.parse(last(`${base}/meter/${meterId}/summation`)!.text);
    assert.equal(typeof summation.deliveredWh, "number");
    assert.equal(typeof summation.receivedWh, "number");

    // Retained: a late subscriber gets the latest values at once.
    const late = await subscriber(broker.url, `${base}/#`);
    await waitFor(
      "retained values",
      () =>
        ["status", `meter/${meterId}/demand`, `meter/${meterId}/summation`, "link/sim_0"]
          .every((suffix) =>
            late.messages.some((m) => m.topic === `${base}/${suffix}` && m.retain)
          ),
    );
    await late.client.endAsync();

    // Opaque ids only: no MAC address of the radio or the meter in any topic.
    const macs = Object.values(simulatedMacs(0)).map((mac) => mac.slice(2));
    for (const { topic } of messages) {
      for (const mac of macs) assert.ok(!topic.toLowerCase().includes(mac), topic);
    }
    assert.deepEqual(logs, []);

    // A clean stop says `offline` (the last will only covers a crash).
    await exporter.stop();
    await waitFor("offline", () => last(`${base}/status`)?.text === "offline");
  } finally {
    await exporter.stop();
    await client.endAsync();
    await sim.close();
    await broker.close();
  }
});

Deno.test("Home Assistant discovery: retained configs with classes, units and unique ids", async () => {
  const broker = await startBroker();
  const sim = await simulatedGateway({ meters: 2, speed: 600, intervalMinutes: 5 });
  const exporter = startMqttExport({
    db: sim.db,
    bus: sim.bus,
    config: {
      url: broker.url,
      username: null,
      password: null,
      caFile: null,
      clientId: "ha-test",
      prefix: "openseg",
    },
    softwareVersion: "0.0.0-test",
    log: () => {},
  });
  try {
    await waitFor(
      "both meters' prices",
      () =>
        [0, 1].every((i) => latestReadings(sim.db, simulatedMacs(i).meterMac).price !== undefined),
    );
    await waitFor("connected", () => exporter.status().connected);
    // A subscriber arriving later sees every config retained (as HA after a restart does).
    const { client, messages } = await subscriber(broker.url, "homeassistant/#");
    try {
      await waitFor("13 configs with price units", () => {
        const configs = new Map(messages.map((m) => [m.topic, JSON.parse(m.text)]));
        return configs.size === 13 &&
          [...configs.values()].filter((c) => c.unit_of_measurement?.endsWith("/kWh")).length ===
            2;
      });
      const configs = new Map(messages.map((m) => [m.topic, JSON.parse(m.text)]));
      assert.ok(messages.every((m) => m.retain));
      const uniqueIds = [...configs.values()].map((c) => c.unique_id);
      assert.equal(new Set(uniqueIds).size, 13);

      // The gateway is a hub device; each meter device is reached through it.
      const hubNode = `openseg_${exporter.gatewayId}`;
      const hub = configs.get(`homeassistant/binary_sensor/${hubNode}/status/config`);
      assert.deepEqual(hub.device.identifiers, [hubNode]);
      assert.equal(hub.state_topic, `openseg/${exporter.gatewayId}/status`);
      assert.deepEqual([hub.payload_on, hub.payload_off], ["online", "offline"]);
      assert.equal(hub.device_class, "connectivity");

      const meterId = usagePointIdFor(sim.db, simulatedMacs(0).meterMac);
      const node = `openseg_${exporter.gatewayId}_${meterId}`;
      const power = configs.get(`homeassistant/sensor/${node}/power/config`);
      assert.equal(power.device_class, "power");
      assert.equal(power.state_class, "measurement");
      assert.equal(power.unit_of_measurement, "W");
      assert.equal(power.state_topic, `openseg/${exporter.gatewayId}/meter/${meterId}/demand`);
      assert.equal(power.value_template, "{{ value_json.demandW }}");
      assert.deepEqual(power.availability, [{ topic: `openseg/${exporter.gatewayId}/status` }]);
      assert.deepEqual(power.device.identifiers, [node]);
      assert.equal(power.device.manufacturer, "openseg");
      assert.equal(power.device.via_device, hubNode);
      for (const name of ["energy_imported", "energy_exported"]) {
        const energy = configs.get(`homeassistant/sensor/${node}/${name}/config`);
        assert.equal(energy.device_class, "energy");
        assert.equal(energy.state_class, "total_increasing");
        assert.equal(energy.unit_of_measurement, "kWh");
        assert.deepEqual(energy.device, power.device);
      }
      const price = configs.get(`homeassistant/sensor/${node}/price/config`);
      const currency = latestReadings(sim.db, simulatedMacs(0).meterMac).price?.currency;
      assert.equal(price.unit_of_measurement, `${currency}/kWh`);
      // Long-term statistics in HA need a state class.
      assert.equal(price.state_class, "measurement");
      assert.equal(price.device.via_device, hubNode);
      const link = configs.get(`homeassistant/binary_sensor/${node}/link/config`);
      assert.equal(link.device_class, "connectivity");
      assert.equal(link.state_topic, `openseg/${exporter.gatewayId}/link/sim_0`);
    } finally {
      await client.endAsync();
    }
  } finally {
    await exporter.stop();
    await sim.close();
    await broker.close();
  }
});

Deno.test("Home Assistant's birth message: discovery and retained values are published again", async () => {
  const broker = await startBroker();
  const sim = await simulatedGateway({ meters: 1, speed: 600, intervalMinutes: 5 });
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
  const { client, messages } = await subscriber(broker.url, "#");
  try {
    // Once the price's currency is known, discovery stops changing: nothing re-sends it by itself.
    await waitFor(
      "the price",
      () => latestReadings(sim.db, METER_KEY).price !== undefined,
    );
    const configTopics = () =>
      new Set(messages.filter((m) => m.topic.endsWith("/config")).map((m) => m.topic));
    await waitFor("7 configs with a price unit", () =>
      configTopics().size === 7 &&
      messages.some((m) => m.topic.endsWith("/price/config") && m.text.includes("/kWh")));
    const meterId = usagePointIdFor(sim.db, METER_KEY);
    const demandTopic = `openseg/${exporter.gatewayId}/meter/${meterId}/demand`;
    await waitFor("a demand value", () => messages.some((m) => m.topic === demandTopic));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const since = messages.length;
    const newer = () => messages.slice(since);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(newer().filter((m) => m.topic.endsWith("/config")), []);

    // HA restarted: it publishes its birth (not retained, as by default).
    await client.publishAsync("homeassistant/status", "online", { qos: 1 });
    await waitFor(
      "every config again",
      () => [...configTopics()].every((topic) => newer().some((m) => m.topic === topic)),
    );
    const statusTopic = `openseg/${exporter.gatewayId}/status`;
    await waitFor(
      "status and stored latest values again",
      () =>
        newer().some((m) => m.topic === statusTopic && m.text === "online") &&
        newer().some((m) => m.topic === `openseg/${exporter.gatewayId}/link/sim_0`),
    );
    // Still retained, so a later subscriber finds them at once.
    const late = await subscriber(broker.url, "homeassistant/+/+/+/config");
    await waitFor("retained configs", () => late.messages.length === 7);
    assert.ok(late.messages.every((m) => m.retain));
    await late.client.endAsync();

    // HA's last will (`offline`) changes nothing.
    const before = messages.length;
    await client.publishAsync("homeassistant/status", "offline", { qos: 1 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(messages.slice(before).filter((m) => m.topic.endsWith("/config")), []);
    assert.deepEqual(logs, []);

    // After a broker restart the exporter still listens for HA's birth.
    await broker.stop();
    await waitFor("disconnected", () => !exporter.status().connected);
    await broker.start();
    await waitFor("reconnected", () => exporter.status().connected && client.connected);
    await waitFor(
      "configs after the reconnect",
      () => messages.slice(before).filter((m) => m.topic.endsWith("/config")).length >= 7,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const afterRestart = messages.length;
    await client.publishAsync("homeassistant/status", "online", { qos: 1 });
    await waitFor(
      "every config after the birth",
      () =>
        [...configTopics()].every((topic) =>
          messages.slice(afterRestart).some((m) => m.topic === topic)
        ),
    );
    // Only the outage itself is logged (how many lines depends on when the socket dies).
    assert.ok(logs.some((line) => /lost the connection/.test(line)), logs.join("\n"));
    assert.ok(!logs.some((line) => /subscribing|announcing/.test(line)), logs.join("\n"));
  } finally {
    await exporter.stop();
    await client.endAsync();
    await sim.close();
    await broker.close();
  }
});
