/**
 * Event-loop lag, the overload signal of admission control. Under 1 000 keep-alive clients the
 * requests do not wait in our handlers (each GraphQL query runs ~1.5 ms of CPU and finishes, so
 * the in-flight cap is rarely reached) but as socket reads completed and not yet run, ahead of
 * the JavaScript that would refuse them. That queue cannot be counted from JavaScript; how late a
 * timer fires can: a timer that should fire every `sampleEveryMs` is late by about the time
 * everything queued ahead of it takes. While it is late by more than `maxLagMs`, admission refuses
 * expensive requests before reading their bodies, so the queue drains at the cost of a `503`
 * each instead of a query each.
 *
 * @module
 */

export interface EventLoopLagOptions {
  /** Lag above which a sample counts as late. */
  maxLagMs: number;
  /** How often the timer measures. */
  sampleEveryMs: number;
  /**
   * Late samples in a row that mean overload. One long task (a big export) makes one late
   * sample and is not overload; a queue of requests keeps every sample late.
   */
  lateSamples: number;
  /** How long the loop counts as overloaded after the last late sample (no flapping). */
  holdMs: number;
}

export interface EventLoopLag {
  /** True from `lateSamples` late samples in a row until `holdMs` after the last late one. */
  overloaded(): boolean;
  stop(): void;
}

/** Starts measuring; `stop()` clears the timer (it never keeps the process alive). */
export function watchEventLoopLag(options: EventLoopLagOptions): EventLoopLag {
  let dueMs = performance.now() + options.sampleEveryMs;
  let lateInARow = 0;
  let overloadedUntilMs = -Infinity;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const schedule = () => {
    const next = setTimeout(sample, options.sampleEveryMs);
    Deno.unrefTimer(next);
    timer = next;
  };
  function sample() {
    const nowMs = performance.now();
    lateInARow = nowMs - dueMs > options.maxLagMs ? lateInARow + 1 : 0;
    if (lateInARow >= options.lateSamples) overloadedUntilMs = nowMs + options.holdMs;
    dueMs = nowMs + options.sampleEveryMs;
    schedule();
  }
  schedule();
  return {
    overloaded: () => performance.now() < overloadedUntilMs,
    stop: () => clearTimeout(timer),
  };
}
