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
    metrics: { live },
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
