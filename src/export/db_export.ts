/**
 * Direct database export (`--export-url`): every complete interval reading goes to each configured
 * PostgreSQL table or InfluxDB measurement, with the MQTT export's guarantees.
 *
 * - Store-and-forward (`forward_cursor.ts`): a persisted cursor per meter and destination, oldest
 *   first, moved only past what the database stored; after an outage the backlog follows in order,
 *   and nothing the ring still holds is lost.
 * - At least once, idempotent: a batch cut short is sent again, and the same key (gateway, meter,
 *   interval start, duration) replaces itself in the database.
 * - Failures are logged once per kind (unreachable, refused login, missing database or bucket,
 *   schema mismatch), retried every `retryMs`, and a recovery is logged once.
 * - Only meters whose household allows it (`forward_cursor.ts`): in a building, a household's
 *   readings go out from the moment it turned its export switch on, never those of before.
 * - Ingest never waits: the bus only schedules a pass on a later turn of the event loop, and the
 *   database is reached asynchronously.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import type { LiveBus } from "../live/bus.ts";
import type { Logger } from "../log.ts";
import { gatewayIdFor } from "../store/gateway_identity.ts";
import { usagePointIdFor } from "../store/usage_points.ts";
import type { DatabaseSink } from "./database_sink.ts";
import { SinkFailure, type SinkFailureKind } from "./database_sink.ts";
import type { DatabaseTarget } from "../config/db_targets.ts";
import { exportBacklog, intervalForwarder } from "./forward_cursor.ts";
import { influxSink } from "./influx_sink.ts";
import { postgresSink } from "./postgres_sink.ts";
import { settlesWithin } from "./settles_within.ts";

export interface DatabaseExportOptions {
  db: DatabaseSync;
  bus: LiveBus;
  targets: DatabaseTarget[];
  /** Failures go to `warn`, the start and recoveries to `info` (one line each). */
  log: Pick<Logger, "info" | "warn">;
  /** Wait after a failure before trying again. Default 10000. */
  retryMs?: number;
  /** Interval readings per write. Default 1000. */
  batchSize?: number;
  /** How long `stop()` waits for a write in flight. Default 2000. */
  stopGraceMs?: number;
  /** A sink for a target; tests and the benchmark use the real ones. */
  sinkFor?: (target: DatabaseTarget) => DatabaseSink;
}

export interface DatabaseExportStatus {
  /** The destination URL without its password or token. */
  destination: string;
  /** False after a failed write, until one succeeds; null before the first write. */
  healthy: boolean | null;
  /** The last failure, cleared by a successful write. */
  lastError: string | null;
  /** Interval readings the database stored since start. */
  intervalsSent: number;
}

export interface DatabaseExporter {
  readonly target: DatabaseTarget;
  status(): DatabaseExportStatus;
  /** Complete interval readings this destination has not stored yet, over all meters. */
  backlogIntervals(): number;
}

export interface DatabaseExports {
  readonly exporters: DatabaseExporter[];
  /** Stops retrying, waits briefly for writes in flight, closes the connections. */
  stop(): Promise<void>;
}

/** Starts one exporter per target; each begins with whatever backlog its cursor leaves. */
export function startDatabaseExports(options: DatabaseExportOptions): DatabaseExports {
  const sinkFor = options.sinkFor ?? defaultSink;
  const gatewayId = gatewayIdFor(options.db);
  const meterIds = new Map<string, string>();
  const meterIdOf = (meterKey: string): string => {
    let id = meterIds.get(meterKey);
    if (id === undefined) {
      id = usagePointIdFor(options.db, meterKey);
      meterIds.set(meterKey, id);
    }
    return id;
  };
  const running = options.targets.map((target) =>
    startOne({ ...options, target, sink: sinkFor(target), gatewayId, meterIdOf })
  );
  // A committed register reading may complete an interval. The observer runs inside the
  // publisher's call, so it only schedules the pass.
  let scheduled = false;
  const unobserve = options.bus.observe((event) => {
    if (scheduled || event.type !== "stored" || event.event.kind !== "summation") return;
    scheduled = true;
    setTimeout(() => {
      scheduled = false;
      for (const exporter of running) exporter.wake();
    }, 0);
  });
  for (const exporter of running) {
    options.log.info(`openseg: exporting interval readings to ${exporter.exporter.target.label}`, {
      destination: exporter.exporter.target.label,
    });
    exporter.wake();
  }
  return {
    exporters: running.map((exporter) => exporter.exporter),
    async stop() {
      unobserve();
      await Promise.all(running.map((exporter) => exporter.stop()));
    },
  };
}

function defaultSink(target: DatabaseTarget): DatabaseSink {
  return target.kind === "postgres" ? postgresSink(target) : influxSink(target);
}

interface RunningExporter {
  exporter: DatabaseExporter;
  wake(): void;
  stop(): Promise<void>;
}

function startOne(
  options: DatabaseExportOptions & {
    target: DatabaseTarget;
    sink: DatabaseSink;
    gatewayId: string;
    meterIdOf: (meterKey: string) => string;
  },
): RunningExporter {
  const { db, target, sink, log } = options;
  const retryMs = options.retryMs ?? 10_000;
  const state = {
    healthy: null as boolean | null,
    lastError: null as string | null,
    lastKind: null as SinkFailureKind | "internal" | null,
    intervalsSent: 0,
    stopping: false,
    retry: null as ReturnType<typeof setTimeout> | null,
  };
  const prefix = `export to ${target.label}`;

  const onFailure = (error: unknown) => {
    // A write cut short by stop() is no failure of the database.
    if (state.stopping) return;
    const kind = error instanceof SinkFailure ? error.kind : "internal";
    const text = error instanceof Error ? error.message : String(error);
    if (kind !== state.lastKind) {
      log.warn(
        `${prefix}: ${text}; readings keep being stored and are sent once it works ` +
          `(retrying every ${retryMs / 1000} s)`,
        { destination: target.label, failure: kind },
      );
    }
    state.healthy = false;
    state.lastError = text;
    state.lastKind = kind;
    state.retry = setTimeout(() => {
      state.retry = null;
      forwarder.wake();
    }, retryMs);
  };

  const forwarder = intervalForwarder({
    db,
    sink: target.cursorName,
    batchSize: options.batchSize ?? 1000,
    // While waiting to retry, register readings do not hammer a failing server.
    canSend: () => !state.stopping && state.retry === null,
    send: async (meterKey, readings) => {
      const meterId = options.meterIdOf(meterKey);
      await sink.write(
        readings.map((reading) => ({ gatewayId: options.gatewayId, meterId, reading })),
      );
      if (state.healthy === false) {
        log.info(`${prefix}: writing again`, { destination: target.label });
      }
      state.healthy = true;
      state.lastError = null;
      state.lastKind = null;
      // Counted here: a pass that fails later still wrote these.
      state.intervalsSent += readings.length;
      return readings.length;
    },
    onError: onFailure,
  });

  return {
    exporter: {
      target,
      status: () => ({
        destination: target.label,
        healthy: state.healthy,
        lastError: state.lastError,
        intervalsSent: state.intervalsSent,
      }),
      backlogIntervals: () => exportBacklog(db, target.cursorName),
    },
    wake: () => forwarder.wake(),
    async stop() {
      state.stopping = true;
      if (state.retry !== null) clearTimeout(state.retry);
      state.retry = null;
      const graceMs = options.stopGraceMs ?? 2000;
      await settlesWithin(forwarder.settled(), graceMs);
      // Closing ends a write still in flight; it fails before moving the cursor. A hung server
      // gets no longer than the grace period either.
      await settlesWithin(sink.close(), graceMs);
      await settlesWithin(forwarder.settled(), graceMs);
    },
  };
}
