/**
 * `openseg serve`: runs the gateway until SIGINT/SIGTERM, printing link state changes and a short
 * periodic summary of what each meter reports.
 *
 * @module
 */

import { loadServeConfig, type ServeConfig, serveOptions } from "../config.ts";
import { startGateway } from "../gateway.ts";
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
  console.log(
    `openseg: ${describeSource(config)} → ${config.dbPath} ` +
      `(keeps ${config.retentionHours} h, ${config.intervalMinutes}-min intervals). Ctrl-C stops.`,
  );
  const gateway = startGateway({
    db,
    ports,
    retentionHours: config.retentionHours,
    intervalMinutes: config.intervalMinutes,
    pollSeconds: config.pollSeconds,
    onLinkState: (port, state, detail) =>
      console.log(`[${port}] link ${state}${detail ? `: ${detail}` : ""}`),
    onEvent: (port, event) => {
      if (event.kind === "demand" || event.kind === "summation" || event.kind === "price") {
        const events = latest.get(port) ?? [];
        latest.set(port, [...events.filter((e) => e.kind !== event.kind), event]);
      }
    },
  });
  const summary = config.quiet ? undefined : setInterval(() => {
    for (const [port, events] of latest) console.log(`[${port}] ${summarize(events)}`);
  }, SUMMARY_EVERY_MS);

  await waitForSignal();
  console.log("openseg: stopping");
  clearInterval(summary);
  await gateway.stop();
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
