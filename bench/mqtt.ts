/**
 * MQTT export benchmark against a real mosquitto (started here on a free port): the sustained
 * publish rate of interval readings drained from the store-and-forward backlog (msgs/s, QoS 1,
 * acknowledged), and the time to drain a full 48-hour backlog of 4 meters after a broker outage,
 * for 5-minute (the default) and 1-minute intervals. A QoS 1 subscriber counts what arrives,
 * also against mosquitto's default queue limits.
 *
 * Run: `npx deno task bench` (or `deno run -A bench/mqtt.ts`).
 *
 * @module
 */

import { startMqttExport } from "../src/export/mqtt.ts";
import { LiveBus } from "../src/live/bus.ts";
import { openDatabase } from "../src/store/db.ts";
import { startBroker, subscriber } from "../tests/export/broker.ts";
import { fillRing } from "../tests/export/ring_fixture.ts";
import { waitFor } from "../tests/e2e/helpers.ts";

const METERS = 4;
const HOURS = 48;
const ROUNDS = 3;

interface DrainResult {
  readings: number;
  drainMs: number;
  received: number;
}

/** A database holding `HOURS` of per-minute register readings for `METERS` meters. */
function backlogDatabase(intervalMinutes: 1 | 5, dir: string): string {
  const path = `${dir}/backlog-${intervalMinutes}.db`;
  const db = openDatabase(path);
  fillRing(db, { meters: METERS, minutes: HOURS * 60, intervalMinutes });
  db.close();
  return path;
}

/** Starts an exporter on a copy of the backlog and times until the broker acknowledged it all. */
async function drainOnce(
  template: string,
  options: { defaultLimits: boolean },
): Promise<DrainResult> {
  const broker = await startBroker({ defaultLimits: options.defaultLimits });
  const path = `${template}.run`;
  await Deno.copyFile(template, path);
  const db = openDatabase(path);
  const { client, messages } = await subscriber(broker.url, "openseg/+/meter/+/interval");
  const exporter = startMqttExport({
    db,
    bus: new LiveBus(),
    config: {
      url: broker.url,
      username: null,
      password: null,
      caFile: null,
      clientId: null,
      prefix: "openseg",
    },
    softwareVersion: "bench",
    log: (line) => console.error(line),
  });
  const readings = exporter.backlogIntervals();
  const startedMs = performance.now();
  try {
    await waitFor("the drain", () => exporter.status().intervalsSent >= readings, 120_000);
    const drainMs = performance.now() - startedMs;
    // Let the subscriber catch up before counting what arrived.
    await waitFor("the subscriber", () => messages.length >= readings, 2000).catch(() => {});
    return { readings, drainMs, received: messages.length };
  } finally {
    await exporter.stop();
    await client.endAsync();
    db.close();
    await broker.close();
    await Deno.remove(path);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const dir = await Deno.makeTempDir({ prefix: "openseg-bench-mqtt-" });
try {
  console.log(`MQTT export: drain of a ${HOURS}-hour backlog for ${METERS} meters (QoS 1)`);
  for (const intervalMinutes of [5, 1] as const) {
    const template = backlogDatabase(intervalMinutes, dir);
    const runs: DrainResult[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      runs.push(await drainOnce(template, { defaultLimits: false }));
    }
    const drainMs = median(runs.map((run) => run.drainMs));
    const readings = runs[0].readings;
    const lost = Math.max(...runs.map((run) => run.readings - run.received));
    console.log(
      `  ${intervalMinutes}-min intervals: ${readings} readings drained in ` +
        `${(drainMs / 1000).toFixed(2)} s (median of ${ROUNDS}) = ` +
        `${Math.round(readings / (drainMs / 1000))} msgs/s; subscriber lost ${lost}`,
    );
    if (intervalMinutes === 1) {
      const limited = await drainOnce(template, { defaultLimits: true });
      console.log(
        `  same against mosquitto's default queue limits: ` +
          `${Math.round(limited.readings / (limited.drainMs / 1000))} msgs/s; ` +
          `subscriber lost ${limited.readings - limited.received} of ${limited.readings}`,
      );
    }
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
