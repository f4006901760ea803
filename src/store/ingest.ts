/**
 * The batching writer: the one way events get into the cache.
 *
 * `add` only queues. A timer flushes within `flushIntervalMs` of the first queued item (so while
 * events arrive there is a commit at least once a second), and a full batch (`maxBatch`) flushes at
 * once. A flush is one transaction: store the events (de-duplicated on (meter, meter time)), fold
 * demand into the rollup, derive interval energy, record meters/ports/link states/warning
 * counters, replace estimated intervals by the meter's own (gap repair), trim the ring. `onCommit`
 * sees exactly what that transaction stored, after COMMIT.
 *
 * If a flush fails (disk full, lock timeout) it rolls back and its items go back to the front of
 * the queue for the next flush; past `maxBatch * 4` queued events the oldest are dropped and
 * counted (`droppedEvents` warning) so memory stays bounded while the disk is unusable.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import type { LinkState, MeterEvent } from "../radio/events.ts";
import { rewindExportCursors } from "./export_cursor.ts";
import type { MeterInterval } from "../radio/gap_repair.ts";
import { IntervalDeriver } from "./interval_deriver.ts";
import { knownMeterFrom, resolveMeterKey } from "./meter_key.ts";
import { ringCutoffMs, trimRing } from "./ring.ts";
import { DemandRollupBatch } from "./rollup.ts";
import { get } from "./statements.ts";
import { storeEvent, type StoreOutcome, type StoreTargets } from "./store_event.ts";
import { TimeLeapGuard } from "./time_leap.ts";
import { errorText, fallbackLogger } from "../log.ts";
import { integerOrNull, textOrNull } from "./values.ts";
import { EventWrites } from "./writes.ts";

export interface IngestOptions {
  /** Ring retention per meter, against its newest meter time. Default 48. */
  retentionHours?: number;
  /** Interval energy granularity. Default 5. */
  intervalMinutes?: 1 | 5 | 15 | 60;
  /** Register readings further apart than this make intervals `estimated`. Default 15. */
  gapMinutes?: number;
  /** Longest time an event waits in the queue; at most 1000. Default 250. */
  flushIntervalMs?: number;
  /** Queue length that flushes at once. Default 5000. */
  maxBatch?: number;
  /** Called after each commit with the events that transaction stored (for the live bus). */
  onCommit?: (committed: StoredEvent[]) => void;
  /** Errors of timer-driven flushes and of `onCommit`, which have no caller. Default: console. */
  onError?: (error: unknown) => void;
}

/** An event as stored: with its port, resolved meter key and gateway receive time. */
export interface StoredEvent {
  port: string;
  meterKey: string;
  event: MeterEvent;
  receivedAtMs: number;
}

/** What one flush did. */
export interface IngestStats {
  /** Events taken from the queue. */
  events: number;
  /** Events stored (what `onCommit` got). */
  stored: number;
  /** Events rejected as repeats of an already stored (meter, meter time). */
  duplicates: number;
  /** Events that could not be stored (e.g. a summation without a finite register value). */
  invalid: number;
  /** Events held back because their meter time leapt far ahead (see `time_leap.ts`). */
  held: number;
  /** Interval rows written or merged. */
  intervalShares: number;
  /** Estimated intervals replaced by the meter's own (gap repair). */
  repairedIntervals: number;
  /** Ring rows deleted by retention. */
  trimmedRows: number;
  elapsedMs: number;
}

interface QueuedEvent {
  port: string;
  event: MeterEvent;
  receivedAtMs: number;
}

interface QueuedLink {
  port: string;
  state: LinkState;
  atMs: number;
  detail: string | null;
}

interface QueuedRepair {
  meterKey: string;
  readings: MeterInterval[];
}

interface QueuedWarning {
  port: string;
  meterKey: string | null;
  kind: string;
  count: number;
  atMs: number;
}

/** Newest stored meter time of a meter not yet seen by this writer (after a restart). */
const STORED_NEWEST_SQL = `SELECT max(ms) AS newestMs FROM (
  SELECT max(ts_ms) AS ms FROM demand WHERE meter_key = ?1
  UNION ALL SELECT max(ts_ms) FROM summation WHERE meter_key = ?1)`;

/** Kinds that describe the radio or the port rather than one meter: no meter row, no trim. */
function isDeviceLevel(kind: string): boolean {
  return kind === "deviceInfo" || kind === "meterList";
}

/** Queues meter events and writes them in batched transactions (see the module doc). */
export class IngestWriter {
  readonly #db: DatabaseSync;
  readonly #writes: EventWrites;
  readonly #deriver: IntervalDeriver;
  readonly #retentionHours: number;
  readonly #flushIntervalMs: number;
  readonly #maxBatch: number;
  readonly #onCommit?: (committed: StoredEvent[]) => void;
  readonly #onError: (error: unknown) => void;
  /** Port → its single meter (committed state of the meter-key rule). */
  readonly #knownMeters: Map<string, string>;
  /** Meter → newest meter time seen (committed), the retention anchor. */
  readonly #newestMs = new Map<string, number>();
  /** Holds back a meter time that would move the retention anchor far ahead on its own. */
  readonly #leaps = new TimeLeapGuard<QueuedEvent>();
  #events: QueuedEvent[] = [];
  #links: QueuedLink[] = [];
  #warnings: QueuedWarning[] = [];
  #repairs: QueuedRepair[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(db: DatabaseSync, options: IngestOptions = {}) {
    const intervalMinutes = options.intervalMinutes ?? 5;
    if (![1, 5, 15, 60].includes(intervalMinutes)) {
      throw new RangeError(`intervalMinutes must be 1, 5, 15 or 60, got ${intervalMinutes}`);
    }
    this.#retentionHours = positive("retentionHours", options.retentionHours ?? 48);
    this.#flushIntervalMs = positive("flushIntervalMs", options.flushIntervalMs ?? 250);
    if (this.#flushIntervalMs > 1000) {
      throw new RangeError(`flushIntervalMs must be at most 1000, got ${this.#flushIntervalMs}`);
    }
    this.#maxBatch = Math.trunc(positive("maxBatch", options.maxBatch ?? 5000));
    this.#db = db;
    this.#writes = new EventWrites(db);
    this.#deriver = new IntervalDeriver(this.#writes, {
      intervalMinutes,
      gapMinutes: positive("gapMinutes", options.gapMinutes ?? 15),
      retentionHours: this.#retentionHours,
    });
    this.#onCommit = options.onCommit;
    this.#onError = options.onError ??
      ((error) => fallbackLogger.error(`store: flush failed: ${errorText(error)}`));
    this.#knownMeters = this.#writes.knownMeters();
  }

  /** Queues one event received on `port` at gateway time `receivedAtMs`. */
  add(port: string, event: MeterEvent, receivedAtMs: number): void {
    this.#assertOpen();
    this.#events.push({ port, event, receivedAtMs });
    if (this.#events.length >= this.#maxBatch) this.#flushReportingErrors();
    else this.#scheduleFlush();
  }

  /** Queues the port's new link state (stored with the next flush). */
  recordLinkState(port: string, state: LinkState, atMs: number, detail?: string): void {
    this.#assertOpen();
    this.#links.push({ port, state, atMs, detail: detail ?? null });
    this.#scheduleFlush();
  }

  /** Queues `count` more of a persistent warning counter (stored with the next flush). */
  countWarning(port: string, meterKey: string | null, kind: string, count = 1): void {
    this.#assertOpen();
    this.#warnings.push({ port, meterKey, kind, count, atMs: Date.now() });
    this.#scheduleFlush();
  }

  /**
   * Queues the meter's own readings of intervals stored as `estimated` (gap repair); each replaces
   * its estimated row with the next flush, which also rewinds the export cursors so every sink
   * receives the repaired intervals again. Rows no longer estimated (or gone) are left alone.
   */
  repairIntervals(meterKey: string, readings: MeterInterval[]): void {
    this.#assertOpen();
    if (readings.length === 0) return;
    this.#repairs.push({ meterKey, readings });
    this.#scheduleFlush();
  }

  /** Writes everything queued in one transaction; rethrows a failure after requeueing. */
  flush(): IngestStats {
    const startedMs = performance.now();
    this.#cancelTimer();
    const events = this.#events;
    const links = this.#links;
    const warnings = this.#warnings;
    const repairs = this.#repairs;
    this.#events = [];
    this.#links = [];
    this.#warnings = [];
    this.#repairs = [];
    const stats: IngestStats = {
      events: events.length,
      stored: 0,
      duplicates: 0,
      invalid: 0,
      held: 0,
      intervalShares: 0,
      repairedIntervals: 0,
      trimmedRows: 0,
      elapsedMs: 0,
    };
    if (events.length + links.length + warnings.length + repairs.length === 0) return stats;

    const staged = new StagedState(this.#knownMeters, this.#newestMs);
    const committed: StoredEvent[] = [];
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      const rollup = new DemandRollupBatch();
      const ring = this.#writes.ringRows();
      const targets = { writes: this.#writes, ring, rollup, intervals: this.#deriver };
      for (const queued of events) {
        const outcome = this.#storeQueued(queued, targets, staged, committed);
        if (outcome === "duplicate") stats.duplicates++;
        else if (outcome === "invalid") stats.invalid++;
        else if (outcome === "held") stats.held++;
      }
      stats.stored = committed.length;
      ring.write();
      this.#writes.addRollups(rollup.cells());
      const derived = this.#deriver.derive();
      stats.intervalShares = derived.shares;
      // After deriving, so an interval this flush completed can be repaired in it too.
      stats.repairedIntervals = this.#repair(repairs);
      for (const [meterKey, late] of derived.late) {
        staged.warn(staged.seen.get(meterKey)?.port ?? "", meterKey, "lateSummation", late);
      }
      for (const [meterKey, seen] of staged.seen) {
        this.#writes.meterSeen(meterKey, seen.port, seen.deviceMac, seen.firstMs, seen.lastMs);
      }
      for (const [port, deviceMac] of staged.portDevices) {
        this.#writes.setPortDevice(port, deviceMac);
      }
      for (const link of links) {
        this.#writes.setPortLink(link.port, link.state, link.detail, link.atMs);
      }
      for (const warning of [...warnings, ...staged.warnings]) {
        const { port, meterKey, kind, count, atMs } = warning;
        this.#writes.addWarning(port, meterKey, kind, count, atMs);
      }
      for (const [meterKey, newestMs] of staged.newestMs) {
        const cutoffMs = ringCutoffMs(newestMs, this.#retentionHours);
        stats.trimmedRows += trimRing(this.#db, meterKey, cutoffMs);
      }
      this.#db.exec("COMMIT");
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      this.#deriver.rollback();
      this.#requeue(events, links, warnings);
      this.#repairs = repairs.concat(this.#repairs);
      throw error;
    }
    this.#deriver.commit();
    staged.commitInto(this.#knownMeters, this.#newestMs);
    stats.elapsedMs = performance.now() - startedMs;
    this.#notify(committed);
    return stats;
  }

  /** Flushes what is queued and stops the timer; the database stays open. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.flush();
  }

  /** Replaces estimated intervals; rewinds each meter's export cursors to its oldest repaired. */
  #repair(repairs: QueuedRepair[]): number {
    let repaired = 0;
    for (const { meterKey, readings } of repairs) {
      let oldestMs = Infinity;
      for (const reading of readings) {
        if (!this.#writes.repairInterval(meterKey, reading)) continue;
        repaired++;
        oldestMs = Math.min(oldestMs, reading.startMs);
      }
      if (oldestMs < Infinity) {
        rewindExportCursors(this.#db, { meterKey, startMs: oldestMs, nowMs: Date.now() });
      }
    }
    return repaired;
  }

  /** The newest meter time a meter has stored, counting this flush; undefined for a new meter. */
  #newestOf(meterKey: string, staged: StagedState): number | undefined {
    const known = staged.newestMs.get(meterKey) ?? this.#newestMs.get(meterKey);
    if (known !== undefined) return known;
    const row = get<{ newestMs: number | null }>(this.#db, STORED_NEWEST_SQL, meterKey);
    if (row?.newestMs == null) return undefined;
    this.#newestMs.set(meterKey, row.newestMs);
    return row.newestMs;
  }

  /**
   * Stores one queued event. `guardLeaps` is false for a held event the next reading confirmed
   * (see `time_leap.ts`); "held" means it waits for that reading.
   */
  #storeQueued(
    queued: QueuedEvent,
    targets: StoreTargets,
    staged: StagedState,
    committed: StoredEvent[],
    guardLeaps = true,
  ): StoreOutcome | "held" {
    const { port, event } = queued;
    const receivedMs = integerOrNull(queued.receivedAtMs) ?? Date.now();
    if (event === null || typeof event !== "object" || typeof event.kind !== "string") {
      staged.warn(port, null, "invalidEvent", 1);
      return "invalid";
    }
    const learned = knownMeterFrom(event);
    if (learned !== undefined) {
      staged.knownMeters.set(port, learned);
      const list = event.kind === "meterList" ? JSON.stringify(event.meters ?? []) : null;
      this.#writes.setPortMeter(port, learned, list);
    }
    const meterKey = resolveMeterKey(event, port, staged.knownMeters.get(port) ?? undefined);
    const meterTimeMs = integerOrNull(event.timeMs);
    const deviceLevel = isDeviceLevel(event.kind);
    if (guardLeaps && meterTimeMs !== null && !deviceLevel) {
      const verdict = this.#leaps.check(
        meterKey,
        meterTimeMs,
        this.#newestOf(meterKey, staged),
        queued,
      );
      if (verdict.dropped) staged.warn(port, meterKey, "timeLeap", 1);
      if (verdict.kind === "hold") return "held";
      if (verdict.released !== null) {
        this.#storeQueued(verdict.released, targets, staged, committed, false);
      }
    }
    const item = { port, meterKey, tsMs: meterTimeMs ?? receivedMs, receivedMs, event };
    const outcome = storeEvent(targets, item);
    const device = textOrNull(event.device);
    if (device !== null && device !== "") staged.portDevice(port, device);
    if (outcome === "stored") {
      committed.push({ port, meterKey, event, receivedAtMs: receivedMs });
      if (!deviceLevel) {
        staged.sawMeter(meterKey, port, device, receivedMs);
        // Only a real meter time anchors retention: a receive time may be on another clock.
        if (meterTimeMs !== null) staged.sawMeterTime(meterKey, meterTimeMs);
      }
    } else {
      staged.warn(port, meterKey, outcome === "duplicate" ? "duplicateEvent" : "invalidEvent", 1);
    }
    return outcome;
  }

  #notify(committed: StoredEvent[]): void {
    if (!this.#onCommit || committed.length === 0) return;
    try {
      this.#onCommit(committed);
    } catch (error) {
      this.#onError(error);
    }
  }

  #requeue(events: QueuedEvent[], links: QueuedLink[], warnings: QueuedWarning[]): void {
    this.#events = events.concat(this.#events);
    const excess = this.#events.length - this.#maxBatch * 4;
    if (excess > 0) {
      this.#events.splice(0, excess);
      warnings = warnings.concat({
        port: "",
        meterKey: null,
        kind: "droppedEvents",
        count: excess,
        atMs: Date.now(),
      });
    }
    this.#links = links.concat(this.#links);
    this.#warnings = warnings.concat(this.#warnings);
  }

  #flushReportingErrors(): void {
    try {
      this.flush();
    } catch (error) {
      this.#onError(error);
      // Retry later rather than on the next add, which would hammer a failing disk.
      this.#scheduleFlush();
    }
  }

  #scheduleFlush(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#flushReportingErrors();
    }, this.#flushIntervalMs);
  }

  #cancelTimer(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error("IngestWriter is closed");
  }
}

/** A meter seen in a flush: its port and radio, first and last receive times. */
interface SeenMeter {
  port: string;
  deviceMac: string | null;
  firstMs: number;
  lastMs: number;
}

/** What a flush changes in the writer's memory, applied only once it commits. */
class StagedState {
  readonly knownMeters: Map<string, string | null>;
  readonly newestMs = new Map<string, number>();
  readonly seen = new Map<string, SeenMeter>();
  readonly portDevices = new Map<string, string>();
  readonly warnings: QueuedWarning[] = [];
  // The last port device and meter recorded: a flush's events mostly repeat them, so most calls
  // skip the map.
  #lastPort: string | null = null;
  #lastDevice: string | null = null;
  #lastSeenKey: string | null = null;
  #lastSeen: SeenMeter | undefined;
  readonly #warningIndex = new Map<string, QueuedWarning>();
  readonly #committedNewestMs: Map<string, number>;

  constructor(knownMeters: Map<string, string>, newestMs: Map<string, number>) {
    this.knownMeters = new Map(knownMeters);
    this.#committedNewestMs = newestMs;
  }

  /** The device last seen on `port`. */
  portDevice(port: string, deviceMac: string): void {
    if (port === this.#lastPort && deviceMac === this.#lastDevice) return;
    this.portDevices.set(port, deviceMac);
    this.#lastPort = port;
    this.#lastDevice = deviceMac;
  }

  sawMeter(meterKey: string, port: string, deviceMac: string | null, receivedMs: number): void {
    const seen = meterKey === this.#lastSeenKey ? this.#lastSeen : this.seen.get(meterKey);
    this.#lastSeenKey = meterKey;
    if (!seen) {
      this.#lastSeen = { port, deviceMac, firstMs: receivedMs, lastMs: receivedMs };
      this.seen.set(meterKey, this.#lastSeen);
      return;
    }
    this.#lastSeen = seen;
    seen.port = port;
    if (deviceMac !== null) seen.deviceMac = deviceMac;
    seen.firstMs = Math.min(seen.firstMs, receivedMs);
    seen.lastMs = Math.max(seen.lastMs, receivedMs);
  }

  sawMeterTime(meterKey: string, meterTimeMs: number): void {
    const newest = this.newestMs.get(meterKey) ?? this.#committedNewestMs.get(meterKey);
    if (newest === undefined || meterTimeMs > newest) this.newestMs.set(meterKey, meterTimeMs);
    else if (!this.newestMs.has(meterKey)) this.newestMs.set(meterKey, newest);
  }

  /** Adds to a counter, merging repeats within the flush into one UPSERT. */
  warn(port: string, meterKey: string | null, kind: string, count: number): void {
    const key = `${port}\u0000${meterKey ?? ""}\u0000${kind}`;
    const warning = this.#warningIndex.get(key);
    if (warning) {
      warning.count += count;
      return;
    }
    const created = { port, meterKey, kind, count, atMs: Date.now() };
    this.#warningIndex.set(key, created);
    this.warnings.push(created);
  }

  commitInto(knownMeters: Map<string, string>, newestMs: Map<string, number>): void {
    knownMeters.clear();
    for (const [port, meterKey] of this.knownMeters) {
      if (meterKey !== null) knownMeters.set(port, meterKey);
    }
    for (const [meterKey, ms] of this.newestMs) newestMs.set(meterKey, ms);
  }
}

function positive(name: string, value: number): number {
  if (!(typeof value === "number" && value > 0 && Number.isFinite(value))) {
    throw new RangeError(`${name} must be a positive number, got ${value}`);
  }
  return value;
}
