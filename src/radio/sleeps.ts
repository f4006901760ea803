/**
 * Timer sleeps that a stop can cut short: a link supervisor and a gap repairer wait between
 * reconnects and requests, and `stop()` must not wait for those timers to run out.
 *
 * @module
 */

/** A set of pending sleeps; `wakeAll()` resolves every one at once. */
export class Sleeps {
  readonly #wakes = new Set<() => void>();

  /** Resolves after `ms`, or at the next `wakeAll()`. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#wakes.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#wakes.add(wake);
    });
  }

  wakeAll(): void {
    for (const wake of [...this.#wakes]) wake();
  }
}
