/**
 * `/metrics` over the real HTTP server, fed by a simulated meter through the gateway: Prometheus
 * text with fragment counters, link state, store rows and bytes, GraphQL subscription streams
 * (MQTT metrics only with an exporter, see `renderMetrics` there).
 *
 * @module
 */

import assert from "node:assert/strict";
import { createClient } from "graphql-sse";
import { createSession, SESSION_COOKIE } from "../../src/auth/sessions.ts";
import type { SharedSubscriptionStats } from "../../src/graphql/shared_subscriptions.ts";
import { countLiveEvents } from "../../src/app/metrics.ts";
import { createHttpApp } from "../../src/app/http_app.ts";
import { simulatedGateway, waitFor } from "../export/fixtures.ts";
import { type LiveCounts, renderMetrics } from "../../src/app/metrics.ts";
import type { LinkState } from "../../src/radio/events.ts";
import { simulatedMacs } from "../../src/sources.ts";
import { openDatabase } from "../../src/store/db.ts";
import { usagePointIdFor } from "../../src/store/usage_points.ts";
import { parseExposition } from "./exposition.ts";

Deno.test("/metrics: fragments, warnings, link state, store rows and bytes", async () => {
  const sim = await simulatedGateway({ meters: 1, speed: 600, intervalMinutes: 5 });
  const live = countLiveEvents(sim.bus);
  const http = createHttpApp({
    hostname: "127.0.0.1",
    port: 0,
    services: {
      db: sim.db,
      nowMs: Date.now,
      publicBaseUrl: "",
      timeZone: "UTC",
      secure: false,
    },
    metrics: { live, version: "9.8.7-test" },
  });
  try {
    await waitFor("demand counted", () => (live.fragments.get("InstantaneousDemand") ?? 0) > 5);
    await waitFor(
      "link stored",
      () =>
        (sim.db.prepare("SELECT count(*) AS n FROM ports WHERE link_state = 'connected'").get() as {
          n: number;
        }).n === 1,
    );
    const response = await fetch(`${http.url}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    const value = (line: RegExp) => Number(text.match(line)?.[1]);
    assert.ok(value(/^openseg_fragments_total\{fragment="InstantaneousDemand"\} (\d+)$/m) > 5);
    assert.equal(value(/^openseg_link_state\{port="sim:0",state="connected"\} (\d+)$/m), 1);
    assert.equal(value(/^openseg_link_state\{port="sim:0",state="closed"\} (\d+)$/m), 0);
    assert.equal(value(/^openseg_link_reconnects_total\{port="sim:0"\} (\d+)$/m), 0);
    assert.ok(value(/^openseg_store_rows\{table="demand"\} (\d+)$/m) > 5);
    assert.ok(value(/^openseg_store_bytes (\d+)$/m) > 4096);
    assert.match(text, /^# TYPE openseg_warnings_total counter$/m);
    assert.doesNotMatch(text, /openseg_mqtt_/);
    // The scrape itself holds a connection; nothing else is in flight or streaming.
    assert.ok(value(/^openseg_http_connections (\d+)$/m) >= 1);
    assert.equal(value(/^openseg_http_streams (\d+)$/m), 0);
    // Every sample line is `name{labels} number` or `name number`.
    for (const line of text.trim().split("\n").filter((l) => !l.startsWith("#"))) {
      assert.match(line, /^[a-z_]+(\{[^}]*\})? \d+(\.\d+)?$/, line);
    }
    const families = new Map(parseExposition(text).map((family) => [family.name, family]));
    assert.deepEqual(families.get("openseg_build_info")?.samples, [
      { name: "openseg_build_info", labels: { version: "9.8.7-test" }, value: 1 },
    ]);
    assert.ok(families.get("process_resident_memory_bytes")!.samples[0].value > 1e6);
    // The V8 heap's share of it: used within reserved, both below the resident total.
    const memory = (name: string) => families.get(name)!.samples[0].value;
    assert.ok(memory("openseg_js_heap_used_bytes") > 1e6);
    assert.ok(memory("openseg_js_heap_used_bytes") <= memory("openseg_js_heap_total_bytes"));
    assert.ok(memory("openseg_js_heap_total_bytes") < memory("process_resident_memory_bytes"));
    assert.ok(memory("openseg_js_external_bytes") > 0);
    assert.equal(families.get("process_cpu_seconds_total")?.type, "counter");
    assert.ok(families.get("process_cpu_seconds_total")!.samples[0].value > 0);
    const startS = families.get("process_start_time_seconds")!.samples[0].value;
    assert.ok(startS > Date.now() / 1000 - 3600 && startS <= Date.now() / 1000, String(startS));
    // The meter's reading age, labelled by index: /metrics is anonymous (docs/security.md).
    const ages = families.get("openseg_meter_last_reading_age_seconds")!.samples;
    assert.deepEqual(ages.map((s) => s.labels), [{ meter: "0" }]);
    assert.ok(ages[0].value >= 0 && ages[0].value < 60, String(ages[0].value));
    const identifiers = [
      ...Object.values(simulatedMacs(0)).map((mac) => mac.slice(2)),
      usagePointIdFor(sim.db, simulatedMacs(0).meterMac),
    ];
    for (const id of identifiers) assert.ok(!text.toLowerCase().includes(id.toLowerCase()), id);
  } finally {
    await http.shutdown();
    live.close();
    await sim.close();
  }
});

Deno.test("/metrics: GraphQL subscription streams and their shared executions", async () => {
  const sim = await simulatedGateway({ meters: 1, speed: 600, intervalMinutes: 5 });
  const live = countLiveEvents(sim.bus);
  let stats: SharedSubscriptionStats | null = null;
  const http = createHttpApp({
    hostname: "127.0.0.1",
    port: 0,
    services: { db: sim.db, nowMs: Date.now, publicBaseUrl: "", timeZone: "UTC", secure: false },
    graphql: {
      bus: sim.bus,
      supervisors: [],
      version: "0.0.0-test",
      startedMs: Date.now(),
      onSubscriptionStats: (received) => (stats = received),
    },
    metrics: { live, subscriptions: () => stats },
  });
  const cookie = `${SESSION_COOKIE}=${
    createSession(sim.db, { nowMs: Date.now(), secure: false }).sessionId
  }`;
  const gauges = async () => {
    const text = await (await fetch(`${http.url}/metrics`)).text();
    const value = (name: string) => Number(text.match(new RegExp(`^${name} (\\d+)$`, "m"))?.[1]);
    return {
      clients: value("openseg_graphql_subscription_clients"),
      executions: value("openseg_graphql_subscription_executions"),
    };
  };
  const queries = [
    "subscription { demand { demand { demandW } } }",
    "subscription { demand { demand { demandW } } }",
    "subscription { intervals { interval { deliveredWh } } }",
  ];
  let connected = 0;
  const clients = queries.map(() =>
    createClient({ url: `${http.url}/graphql`, headers: { Cookie: cookie }, retryAttempts: 0 })
  );
  try {
    assert.deepEqual(await gauges(), { clients: 0, executions: 0 });
    const streams = clients.map((client, i) =>
      client.iterate({ query: queries[i] }, { connected: () => void connected++ })
    );
    for (const stream of streams) void stream.next().catch(() => {});
    await waitFor("three streams", () => connected === 3);
    assert.deepEqual(await gauges(), { clients: 3, executions: 2 });
    for (const client of clients) client.dispose();
    await waitFor("the streams to close", () => stats?.clients === 0);
    assert.deepEqual(await gauges(), { clients: 0, executions: 0 });
  } finally {
    for (const client of clients) client.dispose();
    await http.shutdown();
    live.close();
    await sim.close();
  }
});

Deno.test("/metrics: each family contiguous with one HELP and TYPE, with several ports", () => {
  const dir = Deno.makeTempDirSync({ prefix: "openseg-metrics-" });
  const db = openDatabase(`${dir}/gateway.db`);
  try {
    // Two ports that both changed state: their counters used to come out interleaved.
    const live: LiveCounts = {
      fragments: new Map([["InstantaneousDemand", 3], ["CurrentSummationDelivered", 1]]),
      linkChanges: new Map<string, Map<LinkState, number>>([
        ["/dev/ttyUSB1", new Map<LinkState, number>([["connecting", 2], ["connected", 2]])],
        [
          "/dev/ttyUSB0",
          new Map<LinkState, number>([["connecting", 1], ["connected", 1], ["closed", 1]]),
        ],
      ]),
      close: () => {},
    };
    const text = renderMetrics(db, { live, version: "1.2.3" });
    const families = parseExposition(text);
    const names = families.map((family) => family.name);
    assert.equal(new Set(names).size, names.length);
    const byName = new Map(families.map((family) => [family.name, family]));
    assert.deepEqual(
      byName.get("openseg_link_reconnects_total")!.samples.map((s) => [s.labels.port, s.value]),
      [["/dev/ttyUSB0", 0], ["/dev/ttyUSB1", 1]],
    );
    assert.equal(byName.get("openseg_link_changes_total")!.samples.length, 5);
    assert.ok(families.every((family) => family.help !== "" && family.type !== ""));
  } finally {
    db.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("the strict exposition reader rejects what parsers reject", () => {
  const ok = "# HELP a_total A.\n# TYPE a_total counter\na_total 1\n";
  assert.equal(parseExposition(ok).length, 1);
  assert.throws(() => parseExposition(ok + "# HELP b B.\n# TYPE b gauge\nb 1\na_total 2\n"));
  assert.throws(() => parseExposition(ok + "# TYPE a_total counter\n"));
  assert.throws(() => parseExposition("a 1\n"));
  assert.throws(() => parseExposition('# TYPE a gauge\na{x="1} 1\n'));
  assert.throws(() => parseExposition("# TYPE a gauge\na one\n"));
});
