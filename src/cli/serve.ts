/**
 * `openseg serve`: runs the gateway and its HTTP server until SIGINT/SIGTERM, logging link state
 * changes, a short periodic summary of what each meter reports and, on a first run without an
 * owner password, the one-time setup code (as text or JSON lines, see `log.ts`).
 *
 * @module
 */

import { createApp } from "../app.ts";
import { loadServeConfig, type ServeConfig, serveOptions } from "../config.ts";
import { createLogger } from "../log.ts";
import type { MeterEvent } from "../radio/events.ts";
import type { PortSource } from "../sources.ts";
import { formatHelp } from "../config/options.ts";

const SUMMARY_EVERY_MS = 10_000;

export interface ServeOptions {
  /** The radios, when the caller plays them itself (tests); default: the configured source. */
  ports?: PortSource[];
}

export async function runServe(args: string[], options: ServeOptions = {}): Promise<number> {
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
  await serve(config, options);
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

async function serve(config: ServeConfig, options: ServeOptions): Promise<void> {
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
  const app = await createApp({
    config,
    log,
    ports: options.ports,
    onMeterEvent: (port, event) => {
      if (event.kind === "demand" || event.kind === "summation" || event.kind === "price") {
        const events = latest.get(port) ?? [];
        latest.set(port, [...events.filter((e) => e.kind !== event.kind), event]);
      }
    },
  });
  if (app.mqtt !== null) {
    log.info(`openseg: MQTT export to ${config.mqtt!.url} (status ${app.mqtt.topics.status})`, {
      mqttUrl: config.mqtt!.url,
      statusTopic: app.mqtt.topics.status,
    });
  }
  const summary = config.quiet ? undefined : setInterval(() => {
    for (const [port, events] of latest) log.info(`[${port}] ${summarize(events)}`, { port });
  }, SUMMARY_EVERY_MS);
  const baseUrl = app.publicBaseUrl;
  log.info(`openseg: HTTP on ${app.url} (apps see ${baseUrl}; time zone ${config.timeZone})`, {
    url: app.url,
    publicBaseUrl: baseUrl,
    timeZone: config.timeZone,
  });
  if (app.setupCode !== null) {
    log.warn(
      `openseg: no owner password yet. Open ${baseUrl}/owner/setup and enter the one-time code ` +
        `${app.setupCode}, or run 'openseg admin set-password'.`,
      { setupUrl: `${baseUrl}/owner/setup` },
    );
  }

  await waitForSignal();
  log.info("openseg: stopping");
  clearInterval(summary);
  await app.stop();
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
