/**
 * The simulated meter's push schedules (`get_schedule` / `set_schedule`) and fast poll: which
 * push falls due next, and when.
 *
 * @module
 */

import { SCHEDULE_EVENTS, type ScheduleEventName } from "../radio/commands.ts";

/** One event class's schedule. */
export interface Schedule {
  frequencyS: number;
  enabled: boolean;
  nextDueMs: number;
}

/** Every event class's schedule, plus a `set_fast_poll` that speeds up demand for a while. */
export class PushSchedules {
  readonly #schedules: Record<ScheduleEventName, Schedule>;
  #fastPoll: { frequencyS: number; untilMs: number } | null = null;

  /** Every schedule is due at `startMs`, so the first pushes follow `Connected` immediately. */
  constructor(frequenciesS: Record<ScheduleEventName, number>, startMs: number) {
    this.#schedules = Object.fromEntries(SCHEDULE_EVENTS.map((event): [string, Schedule] => [
      event,
      { frequencyS: frequenciesS[event], enabled: true, nextDueMs: startMs },
    ])) as Record<ScheduleEventName, Schedule>;
  }

  get(event: ScheduleEventName): Schedule {
    return this.#schedules[event];
  }

  /** `set_schedule` at sim time `clockMs`. */
  set(event: ScheduleEventName, enabled: boolean, frequencyS: number, clockMs: number): void {
    const schedule = this.#schedules[event];
    schedule.enabled = enabled;
    schedule.frequencyS = Math.max(1, frequencyS);
    schedule.nextDueMs = clockMs + schedule.frequencyS * 1000;
  }

  /** `set_fast_poll` at sim time `clockMs`: demand every `frequencyS` for `durationS`. */
  setFastPoll(frequencyS: number, durationS: number, clockMs: number): void {
    const fastPoll = { frequencyS: Math.max(1, frequencyS), untilMs: clockMs + durationS * 1000 };
    this.#fastPoll = fastPoll;
    const demand = this.#schedules.demand;
    demand.nextDueMs = Math.min(demand.nextDueMs, clockMs + fastPoll.frequencyS * 1000);
  }

  /** The enabled event due first, or null when every schedule is off. */
  next(): ScheduleEventName | null {
    let due: ScheduleEventName | null = null;
    for (const event of SCHEDULE_EVENTS) {
      const schedule = this.#schedules[event];
      if (
        schedule.enabled && (due === null || schedule.nextDueMs < this.#schedules[due].nextDueMs)
      ) {
        due = event;
      }
    }
    return due;
  }

  /** Moves `event`, due at `dueMs`, on to its next time. */
  advance(event: ScheduleEventName, dueMs: number): void {
    this.#schedules[event].nextDueMs = dueMs + this.#intervalMs(event, dueMs);
  }

  /** Sim time of the next enabled push (Infinity when none). */
  nextDueMs(): number {
    let nextMs = Infinity;
    for (const event of SCHEDULE_EVENTS) {
      const schedule = this.#schedules[event];
      if (schedule.enabled) nextMs = Math.min(nextMs, schedule.nextDueMs);
    }
    return nextMs;
  }

  #intervalMs(event: ScheduleEventName, dueMs: number): number {
    const schedule = this.#schedules[event];
    const fastPoll = this.#fastPoll;
    if (event === "demand" && fastPoll && dueMs < fastPoll.untilMs) {
      return Math.min(schedule.frequencyS, fastPoll.frequencyS) * 1000;
    }
    return schedule.frequencyS * 1000;
  }
}
