/**
 * Turns the register readings a flush stored into interval energy rows.
 *
 * Each meter has an anchor: its newest register reading already split. New readings are sorted by
 * meter time and split against the anchor one after another (`intervals.ts`), then become the
 * anchor. A reading older than the anchor (late, or a meter clock stepping back) is kept as a raw
 * row but not split again, so no delta is ever counted twice; a duplicate reading never gets here
 * because the (meter, meter time) key rejected it.
 *
 * Anchors change only when the flush commits (`commit`), so a rolled-back flush leaves them as
 * they were.
 *
 * @module
 */

import type { SQLInputValue } from "node:sqlite";
import { QUALITY_CODES } from "./migrations.ts";
import { type RegisterReading, splitReadingDelta } from "./intervals.ts";
import type { EventWrites } from "./writes.ts";

export interface DeriverOptions {
  intervalMinutes: number;
  gapMinutes: number;
  retentionHours: number;
}

/** Result of one flush's derivation. */
export interface DeriveResult {
  /** Interval rows written (inserted or merged). */
  shares: number;
  /** Readings per meter that were older than the anchor and so not split. */
  late: Map<string, number>;
}

export class IntervalDeriver {
  readonly #writes: EventWrites;
  readonly #intervalMs: number;
  readonly #gapMs: number;
  readonly #retentionMs: number;
  /** Committed anchors; `undefined` = the meter has no reading yet. */
  readonly #anchors = new Map<string, RegisterReading | undefined>();
  #flushAnchors = new Map<string, RegisterReading | undefined>();
  #inserted = new Map<string, RegisterReading[]>();

  constructor(writes: EventWrites, options: DeriverOptions) {
    this.#writes = writes;
    this.#intervalMs = options.intervalMinutes * 60_000;
    this.#gapMs = Math.max(options.gapMinutes * 60_000, this.#intervalMs);
    this.#retentionMs = options.retentionHours * 3_600_000;
  }

  /** Loads the meter's anchor before this flush inserts its first reading (after, it'd be ours). */
  beforeInsert(meterKey: string): void {
    if (this.#anchors.has(meterKey) || this.#flushAnchors.has(meterKey)) return;
    this.#flushAnchors.set(meterKey, this.#writes.lastSummation(meterKey));
  }

  /** Records a reading this flush stored. */
  inserted(meterKey: string, reading: RegisterReading): void {
    const readings = this.#inserted.get(meterKey);
    if (readings) readings.push(reading);
    else this.#inserted.set(meterKey, [reading]);
  }

  /** Splits all readings stored in this flush and writes the interval rows. */
  derive(): DeriveResult {
    const result: DeriveResult = { shares: 0, late: new Map() };
    const durationS = this.#intervalMs / 1000;
    // Interval rows, six values each, written in one go (see `EventWrites.addIntervals`).
    const rows: SQLInputValue[] = [];
    for (const [meterKey, readings] of this.#inserted) {
      readings.sort((a, b) => a.tsMs - b.tsMs);
      let anchor = this.#flushAnchors.has(meterKey)
        ? this.#flushAnchors.get(meterKey)
        : this.#anchors.get(meterKey);
      const notBeforeMs = readings[readings.length - 1].tsMs - this.#retentionMs;
      for (const reading of readings) {
        if (anchor && reading.tsMs <= anchor.tsMs) {
          result.late.set(meterKey, (result.late.get(meterKey) ?? 0) + 1);
          continue;
        }
        if (anchor) {
          const shares = splitReadingDelta(anchor, reading, {
            intervalMs: this.#intervalMs,
            gapMs: this.#gapMs,
            notBeforeMs,
          });
          for (const share of shares) {
            rows.push(
              meterKey,
              share.startMs,
              durationS,
              share.deliveredWh,
              share.receivedWh,
              QUALITY_CODES[share.quality],
            );
          }
          result.shares += shares.length;
        }
        anchor = reading;
      }
      this.#flushAnchors.set(meterKey, anchor);
    }
    this.#writes.addIntervals(rows);
    this.#inserted = new Map();
    return result;
  }

  /** The flush committed: its anchors become the committed ones. */
  commit(): void {
    for (const [meterKey, anchor] of this.#flushAnchors) this.#anchors.set(meterKey, anchor);
    this.#flushAnchors = new Map();
  }

  /** The flush rolled back: forget what it staged. */
  rollback(): void {
    this.#flushAnchors = new Map();
    this.#inserted = new Map();
  }
}
