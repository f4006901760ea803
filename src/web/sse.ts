/**
 * Live GraphQL subscriptions over server-sent events (yoga's built-in transport: a GET with
 * `Accept: text/event-stream`, results as `next` events, `complete` at the end), through the
 * browser's `EventSource`. It retries a dropped stream itself; when the browser gives up (the
 * gateway restarted, the server refused), this module reopens the stream with backoff, and tells
 * the page each time a stream is (re)opened so it can reload what it missed.
 *
 * @module
 */

/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="esnext" />

import { GRAPHQL_PATH } from "./graphql.ts";

export type StreamState = "open" | "reconnecting";

export interface SubscriptionHandlers<T> {
  onData(data: T): void;
  onState(state: StreamState): void;
  /** After every (re)open: the page reloads what may have changed while the stream was down. */
  onOpen?(): void;
}

const FIRST_RETRY_MS = 1000;
const LONGEST_RETRY_MS = 15_000;

/** Subscribes; returns a function that ends the subscription for good. */
export function subscribe<T>(query: string, handlers: SubscriptionHandlers<T>): () => void {
  const url = `${GRAPHQL_PATH}?query=${encodeURIComponent(query)}`;
  let source: EventSource | null = null;
  let retryMs = FIRST_RETRY_MS;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let ended = false;

  function open(): void {
    source?.close();
    const current = new EventSource(url, { withCredentials: true });
    source = current;
    current.addEventListener("open", () => {
      retryMs = FIRST_RETRY_MS;
      handlers.onState("open");
      handlers.onOpen?.();
    });
    current.addEventListener("next", (event) => {
      const result = JSON.parse((event as MessageEvent<string>).data) as {
        data?: T;
        errors?: { message: string }[];
      };
      if (result.data !== undefined && result.data !== null) handlers.onData(result.data);
      else console.warn("subscription error:", result.errors?.[0]?.message);
    });
    // The server ended the subscription (it is shutting down): treat it as a drop.
    current.addEventListener("complete", () => reopenLater());
    current.addEventListener("error", () => {
      handlers.onState("reconnecting");
      // CONNECTING means the browser retries on its own; CLOSED means it gave up.
      if (current.readyState === EventSource.CLOSED) reopenLater();
    });
  }

  function reopenLater(): void {
    source?.close();
    if (ended) return;
    handlers.onState("reconnecting");
    clearTimeout(retryTimer);
    retryTimer = setTimeout(open, retryMs);
    retryMs = Math.min(retryMs * 2, LONGEST_RETRY_MS);
  }

  // Back on the network: do not wait for the backoff.
  const onOnline = () => {
    retryMs = FIRST_RETRY_MS;
    open();
  };
  globalThis.addEventListener("online", onOnline);
  open();
  return () => {
    ended = true;
    clearTimeout(retryTimer);
    globalThis.removeEventListener("online", onOnline);
    source?.close();
  };
}
