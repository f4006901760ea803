/**
 * Shared pieces of the export tests: a gateway fed by simulated meters (real pseudo-terminals)
 * with a live bus, a temporary database, and polling.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { type Gateway, startGateway } from "../../src/gateway.ts";
import { LiveBus } from "../../src/live/bus.ts";
import { openSources } from "../../src/sources.ts";
import { openDatabase } from "../../src/store/db.ts";
import { usagePointIdFor } from "../../src/store/usage_points.ts";
import { countRows, waitFor } from "../e2e/helpers.ts";

export { waitFor } from "../e2e/helpers.ts";

/** A meter's usage point id, once the ingest path has stored the meter (which assigns it). */
export async function storedMeterId(db: DatabaseSync, meterKey: string): Promise<string> {
  await waitFor("the meter stored", () => countRows(db, "usage_points", meterKey) > 0);
  return usagePointIdFor(db, meterKey);
}

export interface SimulatedGateway {
  db: DatabaseSync;
  bus: LiveBus;
  gateway: Gateway;
  /** Stops the gateway (flushing the store); the database stays open. Idempotent. */
  stop(): Promise<void>;
  /** Stops the gateway, closes the database and removes its directory. */
  close(): Promise<void>;
}

/**
 * A gateway on `meters` simulated meters running `speed` times faster than real time, after
 * replaying `backfillHours` of history (default none) as fast as a new gateway receives it.
 */
export async function simulatedGateway(
  options: {
    meters: number;
    speed: number;
    intervalMinutes: 1 | 5 | 15 | 60;
    backfillHours?: number;
  },
): Promise<SimulatedGateway> {
  const dir = await Deno.makeTempDir({ prefix: "openseg-export-" });
  const db = openDatabase(`${dir}/gateway.db`);
  const bus = new LiveBus();
  const ports = await openSources({
    kind: "simulate",
    meters: options.meters,
    speed: options.speed,
    solar: true,
    backfillHours: options.backfillHours ?? 0,
  });
  const gateway = startGateway({
    db,
    ports,
    bus,
    retentionHours: 48,
    intervalMinutes: options.intervalMinutes,
    pollSeconds: 3600,
  });
  let stopping: Promise<void> | null = null;
  const stop = () => (stopping ??= gateway.stop());
  return {
    db,
    bus,
    gateway,
    stop,
    async close() {
      await stop();
      db.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}
