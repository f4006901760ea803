/**
 * `GET /healthz`: a readiness report for monitors, as JSON. `status` is `ok` (HTTP 200) or
 * `degraded` (HTTP 503) with the reasons in `problems`: a radio link that is not connected, a meter
 * its radio reports as not joined, the MQTT broker down (when export is configured) or store
 * flushes failing (disk full, lock timeout). The details per link, meter, broker and store follow.
 *
 * Only the signed-in owner gets that detail. Anyone else gets `status` and `problems` worded
 * without identifiers: meter MACs and radio ports never leave the box for an anonymous caller,
 * and a broker error (which may name the broker) is left out.
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
import { findSession } from "../auth/sessions.ts";
import type { Route } from "../http/routes.ts";

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

/** What an anonymous caller sees. */
export interface AnonymousHealthReport {
  status: "ok" | "degraded";
  /** The same reasons as `HealthReport.problems`, without meter, port or broker details. */
  problems: string[];
}

/** The `/healthz` route: the full report for the signed-in owner, the anonymous one otherwise. */
export function healthzRoute(options: HealthzOptions): Route {
  return {
    method: "GET",
    path: "/healthz",
    admission: "bypass",
    handler: (request, context) => {
      const { db, nowMs } = context.services;
      const report = healthReport(options);
      const owner = findSession(db, request, nowMs()) !== null;
      return Response.json(owner ? report : anonymousHealthReport(options), {
        status: report.status === "ok" ? 200 : 503,
        headers: { "cache-control": "no-store" },
      });
    },
  };
}

/** The report without identifiers. */
export function anonymousHealthReport(options: HealthzOptions): AnonymousHealthReport {
  const problems: string[] = [];
  for (const link of options.links()) {
    if (link.state !== "connected") problems.push(`a radio is ${link.state}`);
    for (const meter of link.meters) {
      if (!meter.connected) problems.push(`a meter is not joined (${meter.status})`);
    }
  }
  if (options.mqtt !== undefined && !options.mqtt().connected) problems.push("MQTT broker down");
  if (options.store().failing) problems.push("store flush failing");
  return { status: problems.length === 0 ? "ok" : "degraded", problems };
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
