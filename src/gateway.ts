/**
 * The running gateway: one link supervisor per port, all feeding one batching store writer.
 *
 * Kept separate from the CLI so tests and benchmarks run the same composition in-process.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import type { LinkState, MeterEvent } from "./radio/events.ts";
import { type LinkProblem, LinkSupervisor } from "./radio/supervisor.ts";
import type { PortSource } from "./sources.ts";
import { IngestWriter, type StoredEvent } from "./store/ingest.ts";

export interface GatewayOptions {
  db: DatabaseSync;
  ports: PortSource[];
  retentionHours: number;
  intervalMinutes: 1 | 5 | 15 | 60;
  pollSeconds: number;
  onLinkState?: (port: string, state: LinkState, detail: string | null) => void;
  onEvent?: (port: string, event: MeterEvent) => void;
  /** After the store committed (the live bus hangs here). */
  onCommit?: (committed: StoredEvent[]) => void;
}

export interface Gateway {
  readonly supervisors: readonly LinkSupervisor[];
  readonly writer: IngestWriter;
  /** Stops every link, flushes the store and stops simulators; the db stays open. */
  stop(): Promise<void>;
}

export function startGateway(options: GatewayOptions): Gateway {
  const writer = new IngestWriter(options.db, {
    retentionHours: options.retentionHours,
    intervalMinutes: options.intervalMinutes,
    onCommit: options.onCommit,
  });
  const supervisors = options.ports.map((source) => {
    const port = source.port;
    const supervisor = new LinkSupervisor({
      port,
      open: source.open,
      pollIntervalMs: options.pollSeconds * 1000,
      onEvent: (event, receivedAtMs) => {
        writer.add(port, event, receivedAtMs);
        options.onEvent?.(port, event);
      },
      onLinkState: (state, detail) => {
        writer.recordLinkState(port, state, Date.now(), detail ?? undefined);
        options.onLinkState?.(port, state, detail);
      },
      onProblem: (kind: LinkProblem) => writer.countWarning(port, null, kind),
    });
    supervisor.start();
    return supervisor;
  });
  return {
    supervisors,
    writer,
    async stop() {
      await Promise.all(supervisors.map((s) => s.stop()));
      await Promise.all(options.ports.map((source) => source.stop?.()));
      writer.close();
    },
  };
}
