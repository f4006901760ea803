/**
 * What an operator sees when the broker is wrong: an unreachable broker URL, refused credentials
 * or an `mqtts://` broker whose certificate is not trusted (no `--mqtt-ca`) give one clear log
 * line, the gateway keeps running and storing, and the readings wait in the backlog. Also that the
 * right credentials and the right CA do connect, and the `--mqtt-*` option validation.
 *
 * @module
 */

import assert from "node:assert/strict";
import { UsageError } from "../../src/config/usage_error.ts";
import { loadServeConfig } from "../../src/config.ts";
import { startMqttExport } from "../../src/export/mqtt.ts";
import { countLiveEvents, renderMetrics } from "../../src/app/metrics.ts";
import type { MqttConfig } from "../../src/config/mqtt_config.ts";
import { countRows } from "../e2e/helpers.ts";
import { makeTestCertificate } from "../http/tls_fixture.ts";
import { freePort, startBroker, subscriber } from "./broker.ts";
import { simulatedGateway, waitFor } from "./fixtures.ts";

function mqttConfig(url: string, login: { username?: string; password?: string } = {}) {
  return {
    url,
    username: login.username ?? null,
    password: login.password ?? null,
    caFile: null,
    clientId: null,
    prefix: "openseg",
  } satisfies MqttConfig;
}

/** Runs a gateway with an exporter for `config`; checks it keeps storing while not connected. */
async function keepsStoring(config: MqttConfig, expectedLog: RegExp): Promise<string[]> {
  const sim = await simulatedGateway({ meters: 1, speed: 600, intervalMinutes: 1 });
  const logs: string[] = [];
  const exporter = startMqttExport({
    db: sim.db,
    bus: sim.bus,
    config,
    softwareVersion: "0.0.0-test",
    reconnectPeriodMs: 200,
    log: (line) => logs.push(line),
  });
  try {
    await waitFor("the error", () => logs.length > 0, 10_000);
    const before = countRows(sim.db, "demand");
    await waitFor("more demand rows", () => countRows(sim.db, "demand") > before + 20);
    await waitFor("a backlog", () => exporter.backlogIntervals() > 5);
    assert.equal(exporter.status().connected, false);
    assert.match(exporter.status().lastError ?? "", expectedLog);
    // Retries do not repeat the same line.
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(logs.length, 1, logs.join("\n"));
    assert.match(logs[0], expectedLog);
    assert.match(logs[0], /readings keep being stored/);
    assert.ok(!logs[0].includes("secret"), "no password in the log");
    // Monitoring sees it too.
    const live = countLiveEvents(sim.bus);
    const metrics = renderMetrics(sim.db, { live, mqtt: exporter });
    live.close();
    assert.match(metrics, /^openseg_mqtt_connected 0$/m);
    assert.ok(Number(metrics.match(/^openseg_mqtt_backlog_intervals (\d+)$/m)?.[1]) > 5);
    return logs;
  } finally {
    const startedMs = performance.now();
    await exporter.stop();
    assert.ok(performance.now() - startedMs < 3000, "stop does not hang on a dead broker");
    await sim.close();
  }
}

Deno.test("unreachable broker: clear error, the gateway keeps storing", async () => {
  const url = `mqtt://127.0.0.1:${freePort()}`;
  await keepsStoring(mqttConfig(url), /at mqtt:\/\/127\.0\.0\.1:\d+: connection refused/);
});

Deno.test("wrong credentials: clear error, the gateway keeps storing; right ones connect", async () => {
  const broker = await startBroker({ users: { gateway: "right-secret" } });
  try {
    await keepsStoring(
      mqttConfig(broker.url, { username: "gateway", password: "wrong-secret" }),
      /refused the login/,
    );
    const sim = await simulatedGateway({ meters: 1, speed: 600, intervalMinutes: 1 });
    const exporter = startMqttExport({
      db: sim.db,
      bus: sim.bus,
      config: mqttConfig(broker.url, { username: "gateway", password: "right-secret" }),
      softwareVersion: "0.0.0-test",
      log: (line) => assert.fail(line),
    });
    try {
      await waitFor("connected", () => exporter.status().connected);
      await waitFor("intervals sent", () => exporter.status().intervalsSent > 0);
    } finally {
      await exporter.stop();
      await sim.close();
    }
  } finally {
    await broker.close();
  }
});

Deno.test("mqtts://: --mqtt-ca connects and publishes; without it a clear certificate error", async () => {
  const certificate = await makeTestCertificate();
  if (certificate === null) {
    console.warn("openssl not installed: MQTT TLS test skipped");
    return;
  }
  const broker = await startBroker({ tls: certificate });
  const dir = await Deno.makeTempDir({ prefix: "openseg-mqtt-ca-" });
  try {
    // The broker's CA is not among the system's: refused, in words that point at --mqtt-ca.
    await keepsStoring(
      mqttConfig(broker.url),
      /at mqtts:\/\/127\.0\.0\.1:\d+: TLS failed: .*certificate.*give --mqtt-ca/i,
    );

    const caFile = `${dir}/ca.pem`;
    await Deno.writeTextFile(caFile, certificate.ca);
    const sim = await simulatedGateway({ meters: 1, speed: 600, intervalMinutes: 1 });
    const exporter = startMqttExport({
      db: sim.db,
      bus: sim.bus,
      config: { ...mqttConfig(broker.url), caFile },
      softwareVersion: "0.0.0-test",
      log: (line) => assert.fail(line),
    });
    const { client, messages } = await subscriber(broker.url, "openseg/#", { ca: certificate.ca });
    try {
      await waitFor("connected", () => exporter.status().connected);
      const base = `openseg/${exporter.gatewayId}`;
      await waitFor(
        "status, demand and interval readings over TLS",
        () =>
          messages.some((m) => m.topic === `${base}/status` && m.text === "online") &&
          messages.some((m) =>
            m.topic.startsWith(`${base}/meter/`) && m.topic.endsWith("/demand")
          ) &&
          messages.some((m) => m.topic.endsWith("/interval")),
      );
      await waitFor("intervals acknowledged", () => exporter.status().intervalsSent > 0);
    } finally {
      await exporter.stop();
      await client.endAsync();
      await sim.close();
    }
  } finally {
    await broker.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--mqtt-* options: off by default, validated, password from the environment", () => {
  assert.equal(loadServeConfig([], { env: {} })!.mqtt, null);
  const config = loadServeConfig(
    ["--mqtt-url", "mqtts://broker.lan:8883", "--mqtt-username", "gw", "--mqtt-ca", "ca.pem"],
    { env: { OPENSEG_MQTT_PASSWORD: "pw" } },
  );
  assert.deepEqual(config!.mqtt, {
    url: "mqtts://broker.lan:8883",
    username: "gw",
    password: "pw",
    caFile: "ca.pem",
    clientId: null,
    prefix: "openseg",
  });
  const refused: [string[], RegExp][] = [
    [["--mqtt-url", "http://broker.lan"], /must be mqtt:\/\/HOST/],
    [["--mqtt-url", "not a url"], /is not a URL/],
    [["--mqtt-url", "mqtt://u:p@broker.lan"], /credentials/],
    [["--mqtt-url", "mqtt://broker.lan/x"], /path/],
    [["--mqtt-username", "gw"], /--mqtt-username needs --mqtt-url/],
    [["--mqtt-url", "mqtt://b", "--mqtt-ca", "ca.pem"], /needs an mqtts:\/\//],
    [["--mqtt-url", "mqtt://b", "--mqtt-prefix", "a/#"], /--mqtt-prefix/],
    [["--mqtt-url", "mqtt://b", "--mqtt-prefix", "a//b"], /--mqtt-prefix/],
    [["--mqtt-url", "mqtt://b", "--mqtt-client-id", "a b"], /--mqtt-client-id/],
  ];
  for (const [args, message] of refused) {
    assert.throws(() => loadServeConfig(args, { env: {} }), (error: unknown) => {
      assert.ok(error instanceof UsageError);
      assert.match(error.message, message);
      return true;
    });
  }
});
