/**
 * Which latest values the MQTT exporter publishes live, and how often. Home Assistant records every
 * message on a state topic as a state change, so the retained live topics must carry current
 * values only:
 *
 * - a value whose meter time is older than `staleAfterMs` when it arrived is history (the 48-hour
 *   backfill of a new gateway, a meter catching up after an outage) and is not published live —
 *   history reaches consumers by the interval stream alone;
 * - on each topic at most one value goes out per `minIntervalMs`: the first of a burst at once,
 *   the newest of the rest when the interval has passed, the ones between them never.
 *
 * The same test (`isHistory`) applies to the stored latest values republished on each (re)connect:
 * while a backfill is being stored, the newest stored value is still an old one. A meter whose
 * clock lags the gateway's by more than `staleAfterMs` therefore publishes no live values.
 *
 * @module
 */

export interface LiveGateOptions {
  /** Publishes one value on one topic. */
  publish: (topic: string, body: Record<string, unknown>) => void;
  /** A value whose meter time is older than this on arrival is history. Default 10 minutes. */
  staleAfterMs?: number;
  /** Least time between two publishes on one topic. Default 5000. */
  minIntervalMs?: number;
  /** Wall clock (tests). Default `Date.now`. */
  nowMs?: () => number;
}

export interface LiveGate {
  /**
   * A stored value for `topic`; `timeMs` is the meter's time, null when the meter sent none or
   * when the value is current however old it is (a price in effect).
   */
  offer(
    topic: string,
    body: Record<string, unknown>,
    times: { timeMs: number | null; receivedAtMs: number },
  ): void;
  /** Publishes what is waiting at once (a stop must not lose the last commit), stops the timers. */
  flush(): void;
  /** Drops what is waiting on these topics unpublished (their data may no longer leave). */
  forget(topics: Iterable<string>): void;
}

interface TopicState {
  lastPublishedMs: number;
  pending: Record<string, unknown> | null;
  timer: ReturnType<typeof setTimeout> | null;
}

/** The default of `LiveGateOptions.staleAfterMs`. */
export const LIVE_STALE_AFTER_MS = 10 * 60_000;

/** True for a value whose meter time was older than `staleAfterMs` when it arrived. */
export function isHistory(
  times: { timeMs: number | null; receivedAtMs: number },
  staleAfterMs = LIVE_STALE_AFTER_MS,
): boolean {
  return times.timeMs !== null && times.receivedAtMs - times.timeMs > staleAfterMs;
}

/** A gate in front of `options.publish`. */
export function liveGate(options: LiveGateOptions): LiveGate {
  const staleAfterMs = options.staleAfterMs ?? LIVE_STALE_AFTER_MS;
  const minIntervalMs = options.minIntervalMs ?? 5000;
  const nowMs = options.nowMs ?? Date.now;
  const topics = new Map<string, TopicState>();

  const flush = (topic: string, state: TopicState) => {
    state.timer = null;
    if (state.pending === null) return;
    const body = state.pending;
    state.pending = null;
    state.lastPublishedMs = nowMs();
    options.publish(topic, body);
  };

  return {
    offer(topic, body, times) {
      if (isHistory(times, staleAfterMs)) return;
      let state = topics.get(topic);
      if (state === undefined) {
        state = { lastPublishedMs: -Infinity, pending: null, timer: null };
        topics.set(topic, state);
      }
      state.pending = body;
      if (state.timer !== null) return;
      const waitMs = state.lastPublishedMs + minIntervalMs - nowMs();
      if (waitMs <= 0) flush(topic, state);
      else {
        const waiting = state;
        state.timer = setTimeout(() => flush(topic, waiting), waitMs);
      }
    },
    flush() {
      for (const [topic, state] of topics) {
        if (state.timer !== null) clearTimeout(state.timer);
        flush(topic, state);
      }
    },
    forget(forgotten) {
      for (const topic of forgotten) {
        const state = topics.get(topic);
        if (state?.timer != null) clearTimeout(state.timer);
        topics.delete(topic);
      }
    },
  };
}
