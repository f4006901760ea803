/**
 * The running gateway: one link supervisor per port, all feeding one batching store writer.
 *
 * Kept separate from the CLI so tests and benchmarks run the same composition in-process.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import type { LinkState, MeterEvent } from "./radio/events.ts";
import { createRavenAdapter } from "./radio/raven/adapter.ts";
import { GapRepairer, type GapRepairOptions } from "./radio/gap_repair.ts";
import { type LinkProblem, LinkSupervisor } from "./radio/supervisor.ts";
import type { LiveBus } from "./live/bus.ts";
import type { PortSource } from "./sources.ts";
import { estimatedIntervals } from "./store/gap_intervals.ts";
import { IngestWriter, type StoredEvent } from "./store/ingest.ts";
import { errorText, fallbackLogger, type Logger, withComponent } from "./log.ts";

export interface GatewayOptions {
  db: DatabaseSync;
  ports: PortSource[];
  retentionHours: number;
  intervalMinutes: 1 | 5 | 15 | 60;
  pollSeconds: number;
  onLinkState?: (port: string, state: LinkState, detail: string | null) => void;
  onEvent?: (port: string, event: MeterEvent) => void;
  /** A store flush (or `onCommit`) failed; the writer retries. Default: logged. */
  onStoreError?: (error: unknown) => void;
  /** The links' and the store's logger (each line names its port or `store`). */
  log?: Logger;
  /** Told what the store committed and every link state change. */
  bus?: LiveBus;
  /** Gap repair after outages (`radio/gap_repair.ts`): pacing, or `false` to turn it off. */
  gapRepair?:
    | false
    | Pick<GapRepairOptions, "pauseMs" | "replyTimeoutMs" | "settleMs" | "recheckMs">;
}

/** Errors the store writer reported since start: failed flushes (disk full, lock timeout). */
export interface StoreErrors {
  count: number;
  lastError: string | null;
  lastErrorMs: number | null;
  /** True while the last flush failed: no commit has succeeded since `lastErrorMs`. */
  failing: boolean;
}

export interface Gateway {
  readonly supervisors: readonly LinkSupervisor[];
  /** One per supervisor, in the same order; empty when gap repair is off. */
  readonly repairers: readonly GapRepairer[];
  readonly writer: IngestWriter;
  storeErrors(): StoreErrors;
  /** Stops every link, flushes the store and stops simulators; the db stays open. */
  stop(): Promise<void>;
}

export function startGateway(options: GatewayOptions): Gateway {
  const log = options.log ?? fallbackLogger;
  const errors = { count: 0, lastError: null as string | null, lastErrorMs: null as number | null };
  let lastCommitMs: number | null = null;
  const writer = new IngestWriter(options.db, {
    retentionHours: options.retentionHours,
    intervalMinutes: options.intervalMinutes,
    // Live subscribers are told after the commit, so the commit delay is their latency. A
    // WAL commit with synchronous=NORMAL is cheap; bursts still batch up to maxBatch.
    flushIntervalMs: 2,
    onCommit: (committed: StoredEvent[]) => {
      lastCommitMs = Date.now();
      for (const { port, meterKey, event, receivedAtMs } of committed) {
        options.bus?.publish({ type: "stored", port, meterKey, event, receivedAtMs });
      }
    },
    onError: (error: unknown) => {
      errors.count++;
      errors.lastError = error instanceof Error ? error.message : String(error);
      errors.lastErrorMs = Date.now();
      if (options.onStoreError) options.onStoreError(error);
      else log.error(`store: flush failed: ${errorText(error)}`);
    },
  });
  const repairers: GapRepairer[] = [];
  const supervisors = options.ports.map((source) => {
    const port = source.port;
    const repairer = gapRepairer(options, writer, port, (command) => supervisor.send(command));
    if (repairer !== null) repairers.push(repairer);
    const supervisor: LinkSupervisor = new LinkSupervisor({
      port,
      open: source.open,
      createAdapter: source.createAdapter ?? createRavenAdapter,
      log: withComponent(log, port),
      pollIntervalMs: options.pollSeconds * 1000,
      onEvent: (event, receivedAtMs) => {
        writer.add(port, event, receivedAtMs);
        repairer?.observe(event);
        options.onEvent?.(port, event);
      },
      onLinkState: (state, detail) => {
        repairer?.linkState(state);
        const atMs = Date.now();
        writer.recordLinkState(port, state, atMs, detail ?? undefined);
        options.bus?.publish({ type: "link", port, state, detail, atMs });
        options.onLinkState?.(port, state, detail);
      },
      onProblem: (kind: LinkProblem) => writer.countWarning(port, null, kind),
    });
    supervisor.start();
    return supervisor;
  });
  return {
    supervisors,
    repairers,
    writer,
    storeErrors: () => ({
      ...errors,
      failing: errors.lastErrorMs !== null &&
        (lastCommitMs === null || lastCommitMs < errors.lastErrorMs),
    }),
    async stop() {
      await Promise.all(repairers.map((r) => r.stop()));
      await Promise.all(supervisors.map((s) => s.stop()));
      await Promise.all(options.ports.map((source) => source.stop?.()));
      writer.close();
    },
  };
}

/** The gap repairer of one port: asks through `send`, reads and writes the store of `writer`. */
function gapRepairer(
  options: GatewayOptions,
  writer: IngestWriter,
  port: string,
  send: GapRepairOptions["send"],
): GapRepairer | null {
  if (options.gapRepair === false) return null;
  const durationS = options.intervalMinutes * 60;
  return new GapRepairer({
    ...options.gapRepair,
    port,
    intervalS: durationS,
    send,
    estimated: (meterKey, fromMs, limit) =>
      estimatedIntervals(options.db, { meterKey, durationS, fromMs, limit }),
    store: (meterKey, readings) => writer.repairIntervals(meterKey, readings),
    count: (meterKey, kind) => writer.countWarning(port, meterKey, kind),
    logger: options.log ?? fallbackLogger,
  });
}
