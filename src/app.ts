/**
 * The composition root: `createApp(config)` opens the store and the radios, starts the gateway,
 * the exports and the HTTP application (routes and guard chain, `src/app/http_app.ts`), and
 * returns how to reach it and how to stop it, in the right order. `openseg serve` is this plus
 * logging and signals.
 *
 * @module
 */

import packageJson from "../package.json" with { type: "json" };
import { createHttpApp } from "./app/http_app.ts";
import { countLiveEvents } from "./app/metrics.ts";
import { DEFAULT_NATIVE_MEMORY_TRIM, startNativeMemoryTrim } from "./app/native_memory.ts";
import { ESPI_RESOURCE_BASE } from "./auth/oauth_token.ts";
import { issueSetupCode } from "./auth/owner.ts";
import type { ServeConfig } from "./config.ts";
import { startEspiNotifier } from "./espi/notify.ts";
import type { MqttExporter } from "./export/mqtt.ts";
import { type Gateway, startGateway } from "./gateway.ts";
import type { SharedSubscriptionStats } from "./graphql/shared_subscriptions.ts";
import { LiveBus } from "./live/bus.ts";
import { type Logger, withComponent } from "./log.ts";
import type { MeterEvent } from "./radio/events.ts";
import { openSources, type PortSource } from "./sources.ts";
import { openDatabase } from "./store/db.ts";

export interface AppOptions {
  config: ServeConfig;
  log: Logger;
  /** Told about each demand, summation and price event (the CLI's periodic summary). */
  onMeterEvent?: (port: string, event: MeterEvent) => void;
  /** The radios, when the caller plays them itself (tests); default: the configured source. */
  ports?: PortSource[];
}

export interface App {
  /** Where the HTTP server listens. */
  url: string;
  /** The base URL apps see (`--public-url`, else `url`). */
  publicBaseUrl: string;
  gateway: Gateway;
  mqtt: MqttExporter | null;
  /** A one-time owner setup code when no password is set yet, else null. */
  setupCode: string | null;
  /** Stops HTTP, then the gateway (flushing the store), the exports, and closes the database. */
  stop(): Promise<void>;
}

/** Builds and starts the whole gateway. */
export async function createApp(options: AppOptions): Promise<App> {
  const { config, log } = options;
  const db = openDatabase(config.dbPath);
  const ports = options.ports ?? await openSources(config.source);
  const bus = new LiveBus({ log });
  // Subscribed before the gateway starts, so the counters see its first events.
  const liveCounts = countLiveEvents(bus);
  let subscriptionStats: SharedSubscriptionStats | null = null;
  const radioLog = withComponent(log, "radio");
  const gateway = startGateway({
    db,
    ports,
    bus,
    retentionHours: config.retentionHours,
    intervalMinutes: config.intervalMinutes,
    log,
    pollSeconds: config.pollSeconds,
    onLinkState: (port, state, detail) =>
      (state === "disconnected" ? radioLog.warn : radioLog.info)(
        `[${port}] link ${state}${detail ? `: ${detail}` : ""}`,
        { port, state, detail },
      ),
    onStoreError: (error) => {
      const message = error instanceof Error ? error.message : String(error);
      log.error(`store: flush failed: ${message}`, { error: message });
    },
    onEvent: options.onMeterEvent,
  });
  // Loaded only when configured: the MQTT client is ~15 MB of resident memory a box without a
  // broker should not pay for.
  const mqtt = config.mqtt === null ? null : (await import("./export/mqtt.ts")).startMqttExport({
    db,
    bus,
    config: config.mqtt,
    softwareVersion: packageJson.version,
    log: (line) => log.warn(line),
  });
  // Also loaded only when configured: the database drivers are not needed otherwise.
  const databaseExports = config.databaseExports.length === 0
    ? null
    : (await import("./export/db_export.ts")).startDatabaseExports({
      db,
      bus,
      targets: config.databaseExports,
      log,
    });
  const startedMs = Date.now();
  const http = createHttpApp({
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
    log,
    health: { version: packageJson.version, startedMs },
    healthz: {
      links: () => gateway.supervisors,
      store: gateway.storeErrors,
      mqtt: mqtt === null ? undefined : () => mqtt.status(),
    },
    auth: true,
    espi: true,
    graphql: {
      bus,
      supervisors: gateway.supervisors,
      version: packageJson.version,
      startedMs,
      dev: config.graphqlDev,
      onSubscriptionStats: (stats) => (subscriptionStats = stats),
    },
    web: {},
    metrics: {
      live: liveCounts,
      version: packageJson.version,
      mqtt: mqtt ?? undefined,
      subscriptions: () => subscriptionStats,
    },
  });
  const publicBaseUrl = http.services.publicBaseUrl;
  const nativeMemory = startNativeMemoryTrim({
    ...DEFAULT_NATIVE_MEMORY_TRIM,
    // Streams ending are activity too: what 500 of them held is garbage only once they end.
    activity: () => {
      const stats = http.stats();
      return stats.requestsServed + stats.connectionsEnded;
    },
    releaseCaches: () => db.exec("PRAGMA shrink_memory"),
  });
  const notifier = startEspiNotifier({
    db,
    bus,
    resourceBaseUrl: `${publicBaseUrl}${ESPI_RESOURCE_BASE}`,
    log: (line) => log.warn(line),
  });
  return {
    url: http.url,
    publicBaseUrl,
    gateway,
    mqtt,
    setupCode: issueSetupCode(db, Date.now()),
    stop: async () => {
      await http.shutdown();
      // Stops taking fragments, closes the ports and flushes the store; the exporter then
      // publishes what that last commit put on the bus and goes `offline` before the database
      // closes.
      await gateway.stop();
      await mqtt?.stop();
      await databaseExports?.stop();
      await notifier.stop();
      liveCounts.close();
      nativeMemory.stop();
      db.close();
    },
  };
}
