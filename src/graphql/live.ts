/**
 * Subscription sources: async iterators over `LiveBus` subscriptions, so a subscriber is driven
 * by what the store has just committed from the serial line, never by polling. Each source is
 * filtered to the meters the caller may read (and to one meter when asked), and stops carrying a
 * meter at once when a change of households takes it from the caller while it streams (a meter
 * reassigned to a neighbour).
 *
 * Cleanup: when a client disconnects, GraphQL calls `return()`; that closes the bus subscription
 * at once, which also ends a `next()` still waiting (an async generator alone would keep its
 * pending `await` and the subscription until one more event arrived).
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { servedIntervalS } from "../auth/read_policy.ts";
import type { LiveBus, LiveEvent, LiveSubscription } from "../live/bus.ts";
import type { LinkState, MessageEvent } from "../radio/events.ts";
import { meterFeedFacts } from "../store/interval_reads.ts";
import { latestReadings, listMeters, type StoredMessage } from "../store/queries.ts";
import { usagePointIdFor } from "../store/usage_points.ts";
import type { Access } from "./access.ts";
import type { MeterMessage } from "./messages.ts";
import { canRead } from "./meters.ts";
import { type PricedReading, pricedReadings } from "./series.ts";

/** Queue per subscriber: a client this far behind loses its oldest updates, not ingest time. */
const MAX_QUEUED_UPDATES = 256;

export interface LiveSourceOptions {
  bus: LiveBus;
  db: DatabaseSync;
  access: Access;
  /** Only this meter; every readable meter when absent. */
  meterKey?: string;
}

export interface DemandReading {
  demandW: number | null;
  timeMs: number;
}

export interface DemandUpdate {
  meterId: string;
  demand: DemandReading;
}

export interface IntervalUpdate {
  meterId: string;
  interval: PricedReading;
}

export interface MessageUpdate {
  meterId: string;
  message: MeterMessage;
}

export interface LinkUpdate {
  port: string;
  state: LinkState;
  detail: string | null;
  atMs: number;
}

type StoredLiveEvent = Extract<LiveEvent, { type: "stored" }>;

/** Each new demand reading. */
export function demandUpdates(options: LiveSourceOptions): AsyncIterableIterator<DemandUpdate> {
  const meterId = meterIds(options.db);
  return liveSource(
    subscribeStored(options, "demand", meterId),
    (event) => {
      if (event.type !== "stored" || event.event.kind !== "demand") return null;
      return {
        meterId: meterId(event.meterKey),
        demand: {
          demandW: event.event.demandW,
          timeMs: event.event.timeMs ?? event.receivedAtMs,
        },
      };
    },
  );
}

/** Each utility message as stored (new, or changed, e.g. confirmed). */
export function messageUpdates(options: LiveSourceOptions): AsyncIterableIterator<MessageUpdate> {
  const meterId = meterIds(options.db);
  return liveSource(subscribeStored(options, "message", meterId), (event) => {
    if (event.type !== "stored" || event.event.kind !== "message") return null;
    const message = storedMessage(event.event, event.receivedAtMs);
    if (message === null) return null;
    // Usually the new current message; a change to an older one (rare) is not.
    const newest = latestReadings(options.db, event.meterKey).messages[0];
    const current = newest === undefined || newest.messageId === message.messageId;
    return { meterId: meterId(event.meterKey), message: { ...message, current } };
  });
}

/**
 * Each interval that became complete: a register reading at meter time `t` completes every
 * interval ending in (previous reading, t]. Intervals complete before subscribing are not sent.
 */
export function intervalUpdates(options: LiveSourceOptions): AsyncIterableIterator<IntervalUpdate> {
  const meterId = meterIds(options.db);
  const lastReadingMs = new Map<string, number>();
  const meterKeys = options.meterKey === undefined
    ? listMeters(options.db).map((meter) => meter.meterKey)
    : [options.meterKey];
  for (const meterKey of meterKeys) {
    const timeMs = latestReadings(options.db, meterKey).summation?.timeMs;
    if (timeMs !== undefined) lastReadingMs.set(meterKey, timeMs);
  }
  const subscription = subscribeStored(options, "summation", meterId);
  const pending: IntervalUpdate[] = [];
  const completed = (event: StoredLiveEvent): IntervalUpdate[] => {
    const readingMs = event.event.timeMs;
    if (readingMs === null) return [];
    const previousMs = lastReadingMs.get(event.meterKey);
    lastReadingMs.set(event.meterKey, Math.max(previousMs ?? readingMs, readingMs));
    if (previousMs === undefined || readingMs <= previousMs) return [];
    const nativeS = meterFeedFacts(options.db, event.meterKey)?.nativeIntervalS ?? null;
    if (nativeS === null) return [];
    const intervalS = servedIntervalS(nativeS, options.access.finestResolutionS);
    if (intervalS === null) return [];
    const bucketMs = intervalS * 1000;
    return pricedReadings(options.db, {
      meterKey: event.meterKey,
      nativeS,
      intervalS,
      fromMs: Math.floor(previousMs / bucketMs) * bucketMs,
      toMs: readingMs,
    }).filter((reading) => {
      const endMs = reading.startMs + reading.durationS * 1000;
      return endMs > previousMs && endMs <= readingMs;
    }).map((interval) => ({ meterId: meterId(event.meterKey), interval }));
  };
  return {
    async next(): Promise<IteratorResult<IntervalUpdate>> {
      while (pending.length === 0) {
        const result = await subscription.next();
        if (result.done) return { value: undefined, done: true };
        if (result.value.type === "stored") pending.push(...completed(result.value));
      }
      return { value: pending.shift()!, done: false };
    },
    return(): Promise<IteratorResult<IntervalUpdate>> {
      subscription.close();
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/** Each link state change of every radio (owner only: checked by the schema). */
export function linkUpdates(bus: LiveBus): AsyncIterableIterator<LinkUpdate> {
  const subscription = bus.subscribe({
    filter: (event) => event.type === "link",
    maxQueued: MAX_QUEUED_UPDATES,
  });
  return liveSource(
    subscription,
    (event) =>
      event.type === "link"
        ? { port: event.port, state: event.state, detail: event.detail, atMs: event.atMs }
        : null,
  );
}

/** A message event in the shape the store returns, or null for an empty message fragment. */
export function storedMessage(event: MessageEvent, receivedAtMs: number): StoredMessage | null {
  if (event.messageId === null) return null;
  return {
    messageId: event.messageId,
    text: event.text,
    confirmationRequired: event.confirmationRequired,
    confirmed: event.confirmed,
    queue: event.queue,
    priority: event.priority,
    startTimeMs: event.startTimeMs,
    durationS: event.durationS,
    timeMs: event.timeMs ?? receivedAtMs,
    receivedAtMs,
  };
}

/** Stored events of one kind for the meters the caller may read. */
function subscribeStored(
  options: LiveSourceOptions,
  kind: "demand" | "summation" | "message",
  meterId: (meterKey: string) => string,
): LiveSubscription {
  // `access.meterIds` follows the read policy (a meter given to a neighbour stops at once).
  return options.bus.subscribe({
    filter: (event) =>
      event.type === "stored" && event.event.kind === kind &&
      (options.meterKey === undefined || event.meterKey === options.meterKey) &&
      canRead(options.access, meterId(event.meterKey)),
    maxQueued: MAX_QUEUED_UPDATES,
  });
}

/** Opaque ids by meter key, looked up once per meter (they never change). */
function meterIds(db: DatabaseSync): (meterKey: string) => string {
  const ids = new Map<string, string>();
  return (meterKey) => {
    let id = ids.get(meterKey);
    if (id === undefined) ids.set(meterKey, id = usagePointIdFor(db, meterKey));
    return id;
  };
}

/** Maps bus events to updates (skipping nulls); `return()` closes the subscription at once. */
function liveSource<T>(
  subscription: LiveSubscription,
  map: (event: LiveEvent) => T | null,
): AsyncIterableIterator<T> {
  const updates = (async function* () {
    for await (const event of subscription) {
      const update = map(event);
      if (update !== null) yield update;
    }
  })();
  return {
    next: () => updates.next(),
    return: () => {
      subscription.close();
      return updates.return(undefined);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
