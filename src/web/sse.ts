/**
 * Live GraphQL subscriptions for the page, all over one connection: through the shared worker
 * (`live_worker.ts`: one event stream for every tab of the gateway), or, where the browser has no
 * shared workers, through a connection of the page's own (`live.ts`). Either way the page hears
 * of each (re)open, so it can reload what it missed, and of drops.
 *
 * @module
 */

/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="esnext" />

import { LiveConnection, type StreamState } from "./live.ts";
import type { ToPage, ToWorker } from "./live_messages.ts";

export type { StreamState };

export interface SubscriptionHandlers<T> {
  onData(data: T): void;
  onState(state: StreamState): void;
  /** After every (re)open: the page reloads what may have changed while the stream was down. */
  onOpen?(): void;
}

const WORKER_URL = "/assets/live.js";

interface Hub {
  subscribe(query: string, onData: (data: unknown) => void): () => void;
}

const handlers = new Set<SubscriptionHandlers<never>>();
let hub: Hub | null = null;

function onState(state: StreamState): void {
  for (const handler of handlers) handler.onState(state);
}

function onOpen(): void {
  for (const handler of handlers) handler.onOpen?.();
}

/** The shared worker's connection, or the page's own. */
function liveHub(): Hub {
  if (typeof SharedWorker === "undefined") {
    const connection = new LiveConnection({ onState, onOpen });
    return { subscribe: (query, onData) => connection.subscribe(query, onData) };
  }
  const port = new SharedWorker(WORKER_URL, { name: "openseg-live" }).port;
  const listeners = new Map<string, (data: unknown) => void>();
  const send = (message: ToWorker) => port.postMessage(message);
  port.addEventListener("message", (event: MessageEvent<ToPage>) => {
    const message = event.data;
    if (message.type === "data") listeners.get(message.id)?.(message.data);
    else if (message.type === "state") onState(message.state);
    else onOpen();
  });
  port.start();
  globalThis.addEventListener("pagehide", () => send({ type: "bye" }));
  let nextId = 0;
  return {
    subscribe(query, onData) {
      const id = `s${++nextId}`;
      listeners.set(id, onData);
      send({ type: "subscribe", id, query });
      return () => {
        listeners.delete(id);
        send({ type: "unsubscribe", id });
      };
    },
  };
}

/** Subscribes; returns a function that ends the subscription for good. */
export function subscribe<T>(query: string, handler: SubscriptionHandlers<T>): () => void {
  handlers.add(handler as SubscriptionHandlers<never>);
  hub ??= liveHub();
  const stop = hub.subscribe(query, (data) => handler.onData(data as T));
  return () => {
    handlers.delete(handler as SubscriptionHandlers<never>);
    stop();
  };
}
