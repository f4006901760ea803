/**
 * The lifecycle both FFI byte transports share (`FdTransport`, `SerialPort`): one read in flight
 * at a time, writes in order, a close that happens once — after the pending read and queued writes
 * settle, since C holds pointers into their buffers — and idling that a close cuts short.
 *
 * @module
 */

import { setTimeout as delayMs } from "node:timers/promises";

export class IoGate {
  readonly #name: string;
  readonly #closing = new AbortController();
  #pendingRead: Promise<unknown> | null = null;
  #writeQueue: Promise<void> = Promise.resolve();
  #closed: Promise<void> | null = null;

  constructor(name: string) {
    this.#name = name;
  }

  /** False once `close()` was called. */
  get isOpen(): boolean {
    return this.#closed === null;
  }

  /** Runs `readOnce` unless closed or another read is still in flight. */
  read<T>(readOnce: () => Promise<T>): Promise<T> {
    if (!this.isOpen) return Promise.reject(new Error(`${this.#name}: read after close`));
    if (this.#pendingRead !== null) {
      return Promise.reject(new Error(`${this.#name}: only one read may be in flight at a time`));
    }
    const pending = readOnce().finally(() => {
      this.#pendingRead = null;
    });
    this.#pendingRead = pending;
    return pending;
  }

  /** Runs `writeAll` after every earlier write, so chunks never interleave. */
  write(writeAll: () => Promise<void>): Promise<void> {
    const written = this.#writeQueue.then(writeAll);
    this.#writeQueue = written.catch(() => undefined);
    return written;
  }

  /** Closes once: wakes idlers, waits for the pending read and queued writes, then `release`. */
  close(release: () => void | Promise<void>): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing.abort();
      await Promise.allSettled([this.#pendingRead, this.#writeQueue]);
      await release();
    })();
    return this.#closed;
  }

  /** Sleeps `ms`, or less once closing, so `close()` never waits out an idle read. */
  async idle(ms: number): Promise<void> {
    await delayMs(ms, undefined, { signal: this.#closing.signal }).catch(() => undefined);
  }
}
