/**
 * `GET /healthz`: a readiness report for monitors, as JSON. `status` is `ok` (HTTP 200) or
 * `degraded` (HTTP 503) with the reasons in `problems`: a radio link that is not connected, a meter
 * its radio reports as not joined, the MQTT broker down (when export is configured) or store
 * flushes failing (disk full, lock timeout). The details per link, meter, broker and store follow.
 *
 * The route reads everything through small getters, so it knows nothing of how the gateway is
 * composed. `/health` stays the plain liveness probe.
 *
 * @module
 */

import type { MqttExportStatus } from "../export/mqtt.ts";
import type { StoreErrors } from "../gateway.ts";
import type { LinkState } from "../radio/events.ts";
import type { MeterJoinState } from "../radio/supervisor.ts";
import type { Route } from "./routes.ts";

/** What `/healthz` needs of one radio link (a `LinkSupervisor` is one). */
export interface HealthzLink {
  readonly port: string;
  readonly state: LinkState;
  readonly meters: readonly MeterJoinState[];
}

export interface HealthzOptions {
  links: () => readonly HealthzLink[];
  store: () => StoreErrors;
  /** Absent when MQTT export is off. */
  mqtt?: () => MqttExportStatus;
}

export interface HealthReport {
  status: "ok" | "degraded";
  /** One human-readable line per degraded state; empty when ok. */
  problems: string[];
  links: {
    port: string;
    state: LinkState;
    meters: { meter: string; status: string; joined: boolean }[];
  }[];
  /** Null when MQTT export is off. */
  mqtt: { connected: boolean; lastError: string | null } | null;
  store: StoreErrors;
}

/** The `/healthz` route. */
export function healthzRoute(options: HealthzOptions): Route {
  return {
    method: "GET",
    path: "/healthz",
    handler: () => {
      const report = healthReport(options);
      return Response.json(report, {
        status: report.status === "ok" ? 200 : 503,
        headers: { "cache-control": "no-store" },
      });
    },
  };
}

/** The report as the route sends it. */
export function healthReport(options: HealthzOptions): HealthReport {
  const problems: string[] = [];
  const links = options.links().map((link) => {
    if (link.state !== "connected") problems.push(`radio ${link.port} is ${link.state}`);
    const meters = link.meters.map((m) => ({
      meter: m.meter,
      status: m.status,
      joined: m.connected,
    }));
    for (const meter of meters) {
      if (!meter.joined) {
        problems.push(`meter ${meter.meter} on ${link.port} is not joined (${meter.status})`);
      }
    }
    return { port: link.port, state: link.state, meters };
  });
  const mqttStatus = options.mqtt?.();
  const mqtt = mqttStatus === undefined
    ? null
    : { connected: mqttStatus.connected, lastError: mqttStatus.lastError };
  if (mqtt !== null && !mqtt.connected) {
    problems.push(`MQTT broker down${mqtt.lastError ? `: ${mqtt.lastError}` : ""}`);
  }
  const store = options.store();
  if (store.failing) problems.push(`store flush failing: ${store.lastError}`);
  return { status: problems.length === 0 ? "ok" : "degraded", problems, links, mqtt, store };
}
