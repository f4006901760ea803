/**
 * The live bus: what just happened, fanned out to every subscriber (GraphQL subscriptions, MQTT
 * export). Stored events are published only after the store committed them, so what a client
 * sees live is also what a later query returns.
 *
 * Publishing never waits for a subscriber: each one has a bounded queue, and a subscriber that
 * falls too far behind loses its oldest entries (counted in `dropped`), so a slow or dead client
 * can never hold up ingest or the other clients.
 *
 * @module
 */

import { errorText, fallbackLogger, type Logger } from "../log.ts";
import type { LinkState, MeterEvent } from "../radio/events.ts";

export type LiveEvent =
  | { type: "stored"; port: string; meterKey: string; event: MeterEvent; receivedAtMs: number }
  | { type: "link"; port: string; state: LinkState; detail: string | null; atMs: number };

export interface SubscribeOptions {
  /** Keep only the events this accepts. */
  filter?: (event: LiveEvent) => boolean;
  /** Most events queued for this subscriber before the oldest are dropped (default 1000). */
  maxQueued?: number;
}

/** One subscriber's view: an async iterator that ends when `close()` is called. */
export interface LiveSubscription extends AsyncIterableIterator<LiveEvent> {
  /** Events dropped because this subscriber fell behind. */
  readonly dropped: number;
  close(): void;
}

export class LiveBus {
  readonly #log: Logger;
  #subscribers = new Set<Subscriber>();
  #observers = new Set<(event: LiveEvent) => void>();

  /** `log` hears of an observer that threw (the bus goes on). */
  constructor(options: { log?: Logger } = {}) {
    this.#log = options.log ?? fallbackLogger;
  }

  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  publish(event: LiveEvent): void {
    for (const observer of this.#observers) {
      try {
        observer(event);
      } catch (error) {
        this.#log.error(`live bus: an observer failed: ${errorText(error)}`);
      }
    }
    for (const subscriber of this.#subscribers) subscriber.offer(event);
  }

  /**
   * Calls `observer` synchronously on every publish, with no queue: for cheap bookkeeping such as
   * counters, which must see every event yet should hold none. Returns the unsubscribe function.
   */
  observe(observer: (event: LiveEvent) => void): () => void {
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  subscribe(options: SubscribeOptions = {}): LiveSubscription {
    const subscriber = new Subscriber(options, () => this.#subscribers.delete(subscriber));
    this.#subscribers.add(subscriber);
    return subscriber;
  }
}

class Subscriber implements LiveSubscription {
  #queue: LiveEvent[] = [];
  #waiting: ((result: IteratorResult<LiveEvent>) => void) | null = null;
  #closed = false;
  #dropped = 0;
  readonly #filter?: (event: LiveEvent) => boolean;
  readonly #maxQueued: number;
  readonly #onClose: () => void;

  constructor(options: SubscribeOptions, onClose: () => void) {
    this.#filter = options.filter;
    this.#maxQueued = Math.max(1, options.maxQueued ?? 1000);
    this.#onClose = onClose;
  }

  get dropped(): number {
    return this.#dropped;
  }

  offer(event: LiveEvent): void {
    if (this.#closed || (this.#filter && !this.#filter(event))) return;
    if (this.#waiting) {
      const resolve = this.#waiting;
      this.#waiting = null;
      resolve({ value: event, done: false });
      return;
    }
    if (this.#queue.length >= this.#maxQueued) {
      this.#queue.shift();
      this.#dropped++;
    }
    this.#queue.push(event);
  }

  next(): Promise<IteratorResult<LiveEvent>> {
    if (this.#queue.length > 0) {
      return Promise.resolve({ value: this.#queue.shift()!, done: false });
    }
    if (this.#closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.#waiting = resolve));
  }

  return(): Promise<IteratorResult<LiveEvent>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#onClose();
    this.#waiting?.({ value: undefined, done: true });
    this.#waiting = null;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<LiveEvent> {
    return this;
  }
}
