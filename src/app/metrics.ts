/**
 * `GET /metrics` in the Prometheus text format (0.0.4): fragments per type and link changes since
 * start (counted from the live bus), persistent decode warnings, link state per port, store rows
 * and bytes, the age of each meter's last reading, the MQTT exporter's connection and backlog, the
 * GraphQL subscription streams open, the build and the process (memory, CPU, start time).
 *
 * Each family's samples are written together under one `# HELP`/`# TYPE`: parsers that meet a
 * family twice reject the scrape or read it twice.
 *
 * `/metrics` is anonymous (docs/security.md), so no label identifies the household: meters are
 * labelled by their index (`meter="0"`, `"1"`, … in the order they were first seen), not by MAC
 * or usage-point id.
 *
 * Store figures are read per scrape with `count(*)` over the ring tables, which stay small
 * (48 hours) — a scrape costs a few milliseconds.
 *
 * @module
 */

import process from "node:process";
import type { DatabaseSync } from "node:sqlite";
import { all, get } from "../store/statements.ts";
import type { MqttExporter } from "../export/mqtt.ts";
import type { SharedSubscriptionStats } from "../graphql/shared_subscriptions.ts";
import type { LiveBus } from "../live/bus.ts";
import type { LinkState } from "../radio/events.ts";
import { portLinks } from "../store/port_links.ts";
import { meterLastSeenMs } from "../store/queries.ts";
import type { Route } from "../http/routes.ts";
import type { HttpServerStats } from "../http/server.ts";

/** Counts from the live bus since start; `close()` ends the subscription. */
export interface LiveCounts {
  /** Stored fragments by root tag, e.g. `InstantaneousDemand`. */
  fragments: Map<string, number>;
  /** Link state changes by port and state. */
  linkChanges: Map<string, Map<LinkState, number>>;
  close(): void;
}

/** Subscribes to `bus` and counts what passes. */
export function countLiveEvents(bus: LiveBus): LiveCounts {
  const counts: LiveCounts = {
    fragments: new Map(),
    linkChanges: new Map(),
    close: () => stopObserving(),
  };
  // Counted as events are published: a counter must see every event but need hold none.
  const stopObserving = bus.observe((event) => {
    if (event.type === "stored") {
      const fragment = event.event.fragment;
      counts.fragments.set(fragment, (counts.fragments.get(fragment) ?? 0) + 1);
    } else {
      const byState = counts.linkChanges.get(event.port) ?? new Map<LinkState, number>();
      byState.set(event.state, (byState.get(event.state) ?? 0) + 1);
      counts.linkChanges.set(event.port, byState);
    }
  });
  return counts;
}

export interface MetricsOptions {
  live: LiveCounts;
  /** The gateway's version, for `openseg_build_info`. */
  version?: string;
  /** Clock for the reading ages (default `Date.now`). */
  nowMs?: () => number;
  /** Absent when MQTT export is off. */
  mqtt?: MqttExporter;
  /** GraphQL's subscription counts; null until GraphQL is loaded (on its first request). */
  subscriptions?: () => SharedSubscriptionStats | null;
  /** The HTTP server's guard chain (absent in tests that serve metrics alone). */
  http?: () => HttpServerStats;
}

const RING_TABLES = ["demand", "summation", "intervals", "demand_rollup", "prices", "messages"];
const LINK_STATES: LinkState[] = [
  "connecting",
  "initializing",
  "connected",
  "disconnected",
  "closed",
];

/** The `/metrics` route. */
export function metricsRoute(options: MetricsOptions): Route {
  return {
    method: "GET",
    path: "/metrics",
    handler: (_request, context) =>
      new Response(renderMetrics(context.services.db, options), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      }),
  };
}

/** The metrics text for `db` and the live counts. */
export function renderMetrics(db: DatabaseSync, options: MetricsOptions): string {
  const out: string[] = [];
  const family = (name: string, type: "counter" | "gauge", help: string) =>
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  const sample = (name: string, labels: Record<string, string>, value: number) => {
    const text = Object.entries(labels).map(([key, v]) => `${key}="${escapeLabel(v)}"`).join(",");
    out.push(`${name}${text === "" ? "" : `{${text}}`} ${value}`);
  };

  family("openseg_fragments_total", "counter", "Fragments stored since start, by root tag.");
  for (const [fragment, n] of [...options.live.fragments].sort()) {
    sample("openseg_fragments_total", { fragment }, n);
  }

  family(
    "openseg_warnings_total",
    "counter",
    "Warning counters (decode, link, store) by kind, persistent.",
  );
  const warnings = all<{ kind: string; n: number }>(
    db,
    "SELECT kind, sum(count) AS n FROM warnings GROUP BY kind ORDER BY kind",
  );
  for (const { kind, n } of warnings) sample("openseg_warnings_total", { kind }, n);

  family("openseg_link_state", "gauge", "1 for the port's last recorded link state.");
  for (const link of portLinks(db)) {
    for (const state of LINK_STATES) {
      sample("openseg_link_state", { port: link.port, state }, link.state === state ? 1 : 0);
    }
  }
  // Code-unit order of unique ports: localeCompare would load ICU's collation tables (~2 MB
  // resident for as long as the gateway runs) to order device paths.
  const linkChanges = [...options.live.linkChanges].sort(([a], [b]) => a < b ? -1 : 1);
  family("openseg_link_changes_total", "counter", "Link state changes since start.");
  for (const [port, byState] of linkChanges) {
    for (const [state, n] of byState) sample("openseg_link_changes_total", { port, state }, n);
  }
  family("openseg_link_reconnects_total", "counter", "Links re-established since start.");
  for (const [port, byState] of linkChanges) {
    const reconnects = Math.max(0, (byState.get("connected") ?? 0) - 1);
    sample("openseg_link_reconnects_total", { port }, reconnects);
  }

  family("openseg_store_rows", "gauge", "Rows in each ring table.");
  for (const table of RING_TABLES) {
    const row = get<{ n: number }>(db, `SELECT count(*) AS n FROM ${table}`)!;
    sample("openseg_store_rows", { table }, row.n);
  }
  family("openseg_store_bytes", "gauge", "Size of the database file (pages in use and free).");
  const pages = get<{ page_count: number }>(db, "PRAGMA page_count")!;
  const pageSize = get<{ page_size: number }>(db, "PRAGMA page_size")!;
  sample("openseg_store_bytes", {}, pages.page_count * pageSize.page_size);

  family(
    "openseg_meter_last_reading_age_seconds",
    "gauge",
    "Seconds since anything was received from each meter; meters by index, in order first seen.",
  );
  const nowMs = (options.nowMs ?? Date.now)();
  meterLastSeenMs(db).forEach((lastSeenMs, index) =>
    sample(
      "openseg_meter_last_reading_age_seconds",
      { meter: String(index) },
      Math.max(0, (nowMs - lastSeenMs) / 1000),
    )
  );

  if (options.subscriptions) {
    const stats = options.subscriptions();
    family("openseg_graphql_subscription_clients", "gauge", "GraphQL subscription streams open.");
    sample("openseg_graphql_subscription_clients", {}, stats?.clients ?? 0);
    family(
      "openseg_graphql_subscription_executions",
      "gauge",
      "Subscription executions running (clients asking the same thing share one).",
    );
    sample("openseg_graphql_subscription_executions", {}, stats?.executions ?? 0);
  }

  if (options.http) {
    const http = options.http();
    family("openseg_http_connections", "gauge", "TCP connections open.");
    sample("openseg_http_connections", {}, http.connections);
    family("openseg_http_requests_total", "counter", "Requests answered since the start.");
    sample("openseg_http_requests_total", {}, http.requestsServed);
    family("openseg_http_connections_ended_total", "counter", "Connections ended since the start.");
    sample("openseg_http_connections_ended_total", {}, http.connectionsEnded);
    family("openseg_http_in_flight", "gauge", "Requests being handled (admission-controlled).");
    sample("openseg_http_in_flight", {}, http.inFlight);
    family("openseg_http_streams", "gauge", "Streaming responses (SSE) open.");
    sample("openseg_http_streams", {}, http.streams);
  }

  if (options.mqtt) {
    const status = options.mqtt.status();
    family("openseg_mqtt_connected", "gauge", "1 while connected to the broker.");
    sample("openseg_mqtt_connected", {}, status.connected ? 1 : 0);
    family("openseg_mqtt_reconnects_total", "counter", "Broker connections after the first.");
    sample("openseg_mqtt_reconnects_total", {}, status.reconnects);
    family("openseg_mqtt_intervals_sent_total", "counter", "Interval readings acknowledged.");
    sample("openseg_mqtt_intervals_sent_total", {}, status.intervalsSent);
    family("openseg_mqtt_backlog_intervals", "gauge", "Complete interval readings not yet sent.");
    sample("openseg_mqtt_backlog_intervals", {}, options.mqtt.backlogIntervals());
  }

  if (options.version !== undefined) {
    family("openseg_build_info", "gauge", "Always 1; the version is in the label.");
    sample("openseg_build_info", { version: options.version }, 1);
  }
  const memory = Deno.memoryUsage();
  family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  sample("process_resident_memory_bytes", {}, memory.rss);
  // Where the resident memory goes: V8's heap (reserved and live) and the memory it tracks
  // outside it (buffers), so a growing RSS can be told apart from native allocations.
  family("openseg_js_heap_total_bytes", "gauge", "V8 heap reserved, in bytes.");
  sample("openseg_js_heap_total_bytes", {}, memory.heapTotal);
  family("openseg_js_heap_used_bytes", "gauge", "V8 heap in use, in bytes.");
  sample("openseg_js_heap_used_bytes", {}, memory.heapUsed);
  family("openseg_js_external_bytes", "gauge", "Memory held by JS objects outside the heap.");
  sample("openseg_js_external_bytes", {}, memory.external);
  const cpu = process.cpuUsage();
  family("process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.");
  sample("process_cpu_seconds_total", {}, (cpu.user + cpu.system) / 1e6);
  family("process_start_time_seconds", "gauge", "Start time of the process since the epoch.");
  sample("process_start_time_seconds", {}, Math.floor(performance.timeOrigin) / 1000);
  return out.join("\n") + "\n";
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
