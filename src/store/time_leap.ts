/**
 * Guards the retention anchor against one bad meter time.
 *
 * Each meter's ring is trimmed against its newest meter time, so a single fragment stamped far in
 * the future (a corrupted or hostile TimeStamp) would make the next flush delete every real row of
 * that meter. A reading whose meter time leaps more than `maxLeapMs` past the meter's newest stored
 * time is therefore held back, not stored: the meter's next reading either agrees with it (within
 * `agreementMs`: the meter really moved on, e.g. after the gateway was off for a day) and both are
 * stored, or it does not, and the held one is dropped and counted. One reading per meter is held at
 * most, so memory stays bounded.
 *
 * @module
 */

/** What to do with a reading. */
export type LeapVerdict<T> =
  /** Store it; `released` is a held reading the new one confirmed, to be stored first. */
  | { kind: "store"; released: T | null; dropped: boolean }
  /** Hold it back until the next reading decides. */
  | { kind: "hold"; dropped: boolean };

export interface TimeLeapOptions {
  /** A meter time further than this past the newest stored one is held. Default 1 h. */
  maxLeapMs?: number;
  /** How close the next reading must be to the held one to confirm it. Default 1 h. */
  agreementMs?: number;
}

/** The verdict of a reading that is simply stored (shared: verdicts are only read). */
const STORE: LeapVerdict<never> = Object.freeze({ kind: "store", released: null, dropped: false });

/** Per-meter state of held readings; `T` is whatever the caller needs to store it later. */
export class TimeLeapGuard<T> {
  readonly #maxLeapMs: number;
  readonly #agreementMs: number;
  readonly #held = new Map<string, { meterTimeMs: number; item: T }>();

  constructor(options: TimeLeapOptions = {}) {
    this.#maxLeapMs = options.maxLeapMs ?? 3_600_000;
    this.#agreementMs = options.agreementMs ?? 3_600_000;
  }

  /**
   * Judges a reading at `meterTimeMs` against the meter's newest stored time (`undefined` for a
   * meter with nothing stored yet, whose first reading is always taken). `dropped` says a held
   * reading was given up (count it).
   */
  check(
    meterKey: string,
    meterTimeMs: number,
    newestMs: number | undefined,
    item: T,
  ): LeapVerdict<T> {
    // Nothing held (the usual case): no lookup, no verdict object.
    const held = this.#held.size === 0 ? undefined : this.#held.get(meterKey);
    if (held !== undefined) this.#held.delete(meterKey);
    const leaps = newestMs !== undefined && meterTimeMs - newestMs > this.#maxLeapMs;
    if (held !== undefined && Math.abs(meterTimeMs - held.meterTimeMs) <= this.#agreementMs) {
      return { kind: "store", released: held.item, dropped: false };
    }
    const dropped = held !== undefined;
    if (!leaps) return dropped ? { kind: "store", released: null, dropped } : STORE;
    this.#held.set(meterKey, { meterTimeMs, item });
    return { kind: "hold", dropped };
  }
}
