/**
 * The simulated meter's clock: sim time from wall time, `speed`× faster, after an optional
 * backfill phase that replays the past at `catchUpSpeed` until it meets the normal clock.
 *
 * @module
 */

export interface SimClockOptions {
  /** Sim time runs this many times faster than wall time. */
  speed: number;
  /** Sim time at start-up, Unix ms. */
  presentMs: number;
  /** Start this far before `presentMs` and catch up at `catchUpSpeed` (0: no backfill). */
  backfillMs: number;
  /** Speed of the backfill phase (never slower than `speed`). */
  catchUpSpeed: number;
}

/** Sim time = start + wall elapsed × speed, with the catch-up phase first. */
export class SimClock {
  /** Sim time of the first push, Unix ms, on a whole second. */
  readonly startMs: number;
  readonly #presentMs: number;
  readonly #speed: number;
  readonly #catchUpSpeed: number;
  /** Wall time after which the fast clock has met the normal one (present + elapsed × speed). */
  readonly #catchUpWallMs: number;
  readonly #wallStartMs = performance.now();

  constructor(options: SimClockOptions) {
    this.#speed = options.speed;
    this.#presentMs = options.presentMs;
    this.#catchUpSpeed = Math.max(options.speed, options.catchUpSpeed);
    const backfillMs = this.#catchUpSpeed > this.#speed ? Math.max(0, options.backfillMs) : 0;
    this.startMs = Math.floor((options.presentMs - backfillMs) / 1000) * 1000;
    this.#catchUpWallMs = backfillMs / (this.#catchUpSpeed - this.#speed || 1);
  }

  /** Sim time now, Unix ms. */
  nowMs(): number {
    const elapsedMs = performance.now() - this.#wallStartMs;
    return elapsedMs < this.#catchUpWallMs
      ? this.startMs + elapsedMs * this.#catchUpSpeed
      : this.#presentMs + elapsedMs * this.#speed;
  }

  /** How many sim ms pass per wall ms right now. */
  currentSpeed(): number {
    return performance.now() - this.#wallStartMs < this.#catchUpWallMs
      ? this.#catchUpSpeed
      : this.#speed;
  }
}
