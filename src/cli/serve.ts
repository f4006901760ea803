/**
 * `openseg serve`: runs the gateway and its HTTP server until SIGINT/SIGTERM, logging link state
 * changes, a short periodic summary of what each meter reports and, on a first run without an
 * owner password, the one-time setup code (as text or JSON lines, see `log.ts`).
 *
 * @module
 */

import packageJson from "../../package.json" with { type: "json" };
import { authRoutes } from "../auth/oauth.ts";
import { ESPI_RESOURCE_BASE } from "../auth/oauth_token.ts";
import { startEspiNotifier } from "../espi/notify.ts";
import { espiRoutes } from "../espi/routes.ts";
import { issueSetupCode } from "../auth/owner.ts";
import { loadServeConfig, type ServeConfig, serveOptions } from "../config.ts";
import { startGateway } from "../gateway.ts";
import { healthRoute } from "../http/health.ts";
import { lazyRoutes } from "../http/lazy_routes.ts";
import { healthzRoute } from "../http/healthz.ts";
import type { SharedSubscriptionStats } from "../graphql/shared_subscriptions.ts";
import { countLiveEvents, metricsRoute } from "../http/metrics.ts";
import { startHttpServer } from "../http/server.ts";
import { staticRoutes } from "../http/static.ts";
import { LiveBus } from "../live/bus.ts";
import { createLogger } from "../log.ts";
import type { MeterEvent } from "../radio/events.ts";
import { openSources } from "../sources.ts";
import { openDatabase } from "../store/db.ts";
import { formatHelp } from "./options.ts";

const SUMMARY_EVERY_MS = 10_000;

export async function runServe(args: string[]): Promise<number> {
  const config = loadServeConfig(args, { env: Deno.env.toObject() });
  if (config === null) {
    console.log(formatHelp(
      "openseg serve [options]",
      "Run the gateway: read meters through RAVEn/EMU-2 radios into the 48-hour cache.\n" +
        "Without --serial or --replay it simulates meters on pseudo-terminals.",
      serveOptions,
    ));
    return 0;
  }
  await serve(config);
  return 0;
}

function describeSource(config: ServeConfig): string {
  const source = config.source;
  switch (source.kind) {
    case "serial":
      return `serial ${source.paths.join(", ")}`;
    case "simulate":
      return `${source.meters} simulated meter(s) at ${source.speed}x speed` +
        (source.solar ? " with solar" : "");
    case "replay":
      return `replay of ${source.file}`;
  }
}

async function serve(config: ServeConfig): Promise<void> {
  const db = openDatabase(config.dbPath);
  const ports = await openSources(config.source);
  const latest = new Map<string, MeterEvent[]>();
  const log = createLogger({ format: config.logFormat, level: config.logLevel });
  log.info(
    `openseg: ${describeSource(config)} → ${config.dbPath} ` +
      `(keeps ${config.retentionHours} h, ${config.intervalMinutes}-min intervals). Ctrl-C stops.`,
    {
      source: config.source.kind,
      db: config.dbPath,
      retentionHours: config.retentionHours,
      intervalMinutes: config.intervalMinutes,
    },
  );
  const bus = new LiveBus();
  // Subscribed before the gateway starts, so the counters see its first events.
  const liveCounts = countLiveEvents(bus);
  let subscriptionStats: SharedSubscriptionStats | null = null;
  const gateway = startGateway({
    db,
    ports,
    bus,
    retentionHours: config.retentionHours,
    intervalMinutes: config.intervalMinutes,
    pollSeconds: config.pollSeconds,
    logger: log,
    onLinkState: (port, state, detail) =>
      (state === "disconnected" ? log.warn : log.info)(
        `[${port}] link ${state}${detail ? `: ${detail}` : ""}`,
        { port, state, detail },
      ),
    onStoreError: (error) => {
      const message = error instanceof Error ? error.message : String(error);
      log.error(`store: flush failed: ${message}`, { error: message });
    },
    onEvent: (port, event) => {
      if (event.kind === "demand" || event.kind === "summation" || event.kind === "price") {
        const events = latest.get(port) ?? [];
        latest.set(port, [...events.filter((e) => e.kind !== event.kind), event]);
      }
    },
  });
  // Loaded only when configured: the MQTT client is ~15 MB of resident memory a box without a
  // broker should not pay for.
  const mqtt = config.mqtt === null ? null : (await import("../export/mqtt.ts")).startMqttExport({
    db,
    bus,
    config: config.mqtt,
    softwareVersion: packageJson.version,
    log: (line) => log.warn(line),
  });
  if (mqtt !== null) {
    log.info(`openseg: MQTT export to ${config.mqtt!.url} (status ${mqtt.topics.status})`, {
      mqttUrl: config.mqtt!.url,
      statusTopic: mqtt.topics.status,
    });
  }
  const summary = config.quiet ? undefined : setInterval(() => {
    for (const [port, events] of latest) log.info(`[${port}] ${summarize(events)}`, { port });
  }, SUMMARY_EVERY_MS);
  const startedMs = Date.now();
  const http = startHttpServer({
    hostname: config.listen.hostname,
    port: config.listen.port,
    cert: config.tls ? await Deno.readTextFile(config.tls.certFile) : undefined,
    key: config.tls ? await Deno.readTextFile(config.tls.keyFile) : undefined,
    services: {
      db,
      nowMs: Date.now,
      publicBaseUrl: config.publicUrl ?? "",
      timeZone: config.timeZone,
      secure: config.tls !== null,
    },
    routes: [
      healthRoute({ version: packageJson.version, startedMs }),
      healthzRoute({
        links: () => gateway.supervisors,
        store: gateway.storeErrors,
        mqtt: mqtt === null ? undefined : () => mqtt.status(),
      }),
      ...authRoutes(),
      ...espiRoutes,
      // GraphQL loads on its first request: a box nobody is looking at saves yoga's memory.
      ...lazyRoutes(
        [{ method: "GET", path: "/graphql" }, { method: "POST", path: "/graphql" }],
        async () =>
          (await import("../graphql/server.ts")).graphqlRoutes({
            bus,
            supervisors: gateway.supervisors,
            version: packageJson.version,
            startedMs,
            dev: config.graphqlDev,
            onSubscriptionStats: (stats) => (subscriptionStats = stats),
          }),
      ),
      ...staticRoutes(),
      metricsRoute({
        live: liveCounts,
        mqtt: mqtt ?? undefined,
        subscriptions: () => subscriptionStats,
      }),
    ],
  });
  const baseUrl = http.services.publicBaseUrl;
  log.info(`openseg: HTTP on ${http.url} (apps see ${baseUrl}; time zone ${config.timeZone})`, {
    url: http.url,
    publicBaseUrl: baseUrl,
    timeZone: config.timeZone,
  });
  const notifier = startEspiNotifier({
    db,
    bus,
    resourceBaseUrl: `${baseUrl}${ESPI_RESOURCE_BASE}`,
    log: (line) => log.warn(line),
  });
  const setupCode = issueSetupCode(db, Date.now());
  if (setupCode !== null) {
    log.warn(
      `openseg: no owner password yet. Open ${baseUrl}/owner/setup and enter the one-time code ` +
        `${setupCode}, or run 'openseg admin set-password'.`,
      { setupUrl: `${baseUrl}/owner/setup` },
    );
  }

  await waitForSignal();
  log.info("openseg: stopping");
  clearInterval(summary);
  await http.shutdown();
  // Stops taking fragments, closes the ports and flushes the store; the exporter then publishes
  // what that last commit put on the bus and goes `offline` before the database closes.
  await gateway.stop();
  await mqtt?.stop();
  await notifier.stop();
  liveCounts.close();
  db.close();
}

/** One line per meter: demand, registers and price as a homeowner reads them. */
export function summarize(events: MeterEvent[]): string {
  const parts: string[] = [];
  for (const event of events) {
    if (event.kind === "demand" && event.demandW !== null) {
      parts.push(`${event.demandW < 0 ? "exporting" : "using"} ${Math.abs(event.demandW)} W`);
    } else if (event.kind === "summation") {
      parts.push(`imported ${(event.summationDeliveredWh / 1000).toFixed(3)} kWh`);
      if (event.summationReceivedWh) {
        parts.push(`exported ${(event.summationReceivedWh / 1000).toFixed(3)} kWh`);
      }
    } else if (event.kind === "price" && event.pricePerKWh !== null) {
      parts.push(`price ${event.pricePerKWh} ${event.currency ?? ""}/kWh`.replace(" /", "/"));
    }
  }
  const time = events.map((e) => e.timeMs).filter((t): t is number => t !== null);
  const at = time.length > 0 ? ` at ${new Date(Math.max(...time)).toISOString()}` : "";
  return parts.join(", ") + at;
}

function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
    const handler = () => {
      for (const signal of signals) Deno.removeSignalListener(signal, handler);
      resolve();
    };
    for (const signal of signals) Deno.addSignalListener(signal, handler);
  });
}
