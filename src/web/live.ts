/**
 * Every live subscription over ONE connection: graphql-sse's single-connection mode (a `PUT`
 * reserves an event stream, an `EventSource` opens it with the token in the URL, each subscription
 * is a `POST` with the token and an operation id, a `DELETE` stops it). Browsers allow six HTTP/1.1
 * connections per host, and a stream per subscription used them up by the second tab.
 *
 * Identical subscriptions share one operation. When the stream drops, or the server ends an
 * operation, the whole connection is reopened with backoff (a dropped stream's reservation is gone
 * on the server) and every subscription is sent again; `onOpen` tells the page to reload what it
 * may have missed. Runs in the shared worker (`live_worker.ts`, one connection for all tabs) or,
 * where there are no shared workers, in the page.
 *
 * @module
 */

/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="esnext" />

import { GRAPHQL_PATH } from "./graphql.ts";

const TOKEN_HEADER = "X-GraphQL-Event-Stream-Token";

export type StreamState = "open" | "reconnecting";

const FIRST_RETRY_MS = 1000;
const LONGEST_RETRY_MS = 15_000;

export interface LiveEvents {
  onState(state: StreamState): void;
  /** After every (re)open: whatever the stream missed is only in a fresh load. */
  onOpen(): void;
}

interface Operation {
  query: string;
  listeners: Set<(data: unknown) => void>;
}

/** One single-connection event stream and the subscriptions on it. */
export class LiveConnection {
  readonly #events: LiveEvents;
  readonly #operations = new Map<string, Operation>();
  #source: EventSource | null = null;
  #token: string | null = null;
  #state: StreamState = "reconnecting";
  #retryMs = FIRST_RETRY_MS;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #nextId = 0;
  #generation = 0;

  constructor(events: LiveEvents) {
    this.#events = events;
    // Back on the network: do not wait for the backoff.
    globalThis.addEventListener("online", () => {
      if (this.#operations.size === 0) return;
      this.#retryMs = FIRST_RETRY_MS;
      void this.#connect();
    });
  }

  get state(): StreamState {
    return this.#state;
  }

  /** Follows `query`; returns the function that stops following it. */
  subscribe(query: string, onData: (data: unknown) => void): () => void {
    let id = [...this.#operations].find(([, operation]) => operation.query === query)?.[0];
    if (id === undefined) {
      id = `op-${++this.#nextId}`;
      this.#operations.set(id, { query, listeners: new Set() });
      // The first subscription opens the connection; later ones join it.
      if (this.#operations.size === 1 && this.#token === null) void this.#connect();
      else if (this.#state === "open") void this.#start(id);
    }
    const operation = this.#operations.get(id)!;
    operation.listeners.add(onData);
    return () => {
      operation.listeners.delete(onData);
      if (operation.listeners.size > 0 || this.#operations.get(id) !== operation) return;
      this.#operations.delete(id);
      // Nobody follows anything (the tabs signed out or closed): no stream, no retries.
      if (this.#operations.size === 0) return this.#close();
      if (this.#token !== null) {
        void fetch(`${GRAPHQL_PATH}?operationId=${encodeURIComponent(id)}`, {
          method: "DELETE",
          credentials: "same-origin",
          headers: { [TOKEN_HEADER]: this.#token },
        }).catch(() => {});
      }
    };
  }

  async #connect(): Promise<void> {
    const generation = ++this.#generation;
    clearTimeout(this.#retryTimer);
    this.#source?.close();
    this.#source = null;
    this.#token = null;
    let token: string;
    try {
      const response = await fetch(GRAPHQL_PATH, { method: "PUT", credentials: "same-origin" });
      if (response.status !== 201) throw new Error(`reservation refused: ${response.status}`);
      token = await response.text();
    } catch {
      if (generation === this.#generation) this.#reconnectLater();
      return;
    }
    if (generation !== this.#generation) return;
    this.#token = token;
    const source = new EventSource(`${GRAPHQL_PATH}?token=${encodeURIComponent(token)}`);
    this.#source = source;
    source.addEventListener("open", () => {
      this.#retryMs = FIRST_RETRY_MS;
      this.#setState("open");
      this.#events.onOpen();
      for (const id of this.#operations.keys()) void this.#start(id);
    });
    source.addEventListener("next", (event) => {
      const { id, payload } = JSON.parse((event as MessageEvent<string>).data) as {
        id: string;
        payload: { data?: unknown; errors?: { message: string }[] };
      };
      const operation = this.#operations.get(id);
      if (operation === undefined) return;
      if (payload.data !== undefined && payload.data !== null) {
        for (const listener of operation.listeners) listener(payload.data);
      } else console.warn("subscription error:", payload.errors?.[0]?.message);
    });
    // The server ended a subscription (it is shutting down, or the session ended): a drop.
    source.addEventListener("complete", (event) => {
      const { id } = JSON.parse((event as MessageEvent<string>).data) as { id: string };
      if (this.#operations.has(id)) this.#reconnectLater();
    });
    // The server forgets a reservation when its stream drops: the browser's own retry cannot work.
    source.addEventListener("error", () => this.#reconnectLater());
  }

  /** Sends one subscription on the open stream; a refusal means the stream is not usable. */
  async #start(id: string): Promise<void> {
    const operation = this.#operations.get(id);
    const token = this.#token;
    if (operation === undefined || token === null) return;
    try {
      const response = await fetch(GRAPHQL_PATH, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", [TOKEN_HEADER]: token },
        body: JSON.stringify({ query: operation.query, extensions: { operationId: id } }),
      });
      if (response.status !== 202 && token === this.#token) this.#reconnectLater();
    } catch {
      if (token === this.#token) this.#reconnectLater();
    }
  }

  #close(): void {
    this.#generation++;
    clearTimeout(this.#retryTimer);
    this.#source?.close();
    this.#source = null;
    this.#token = null;
    this.#state = "reconnecting";
  }

  #reconnectLater(): void {
    this.#generation++;
    this.#source?.close();
    this.#source = null;
    this.#token = null;
    this.#setState("reconnecting");
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => void this.#connect(), this.#retryMs);
    this.#retryMs = Math.min(this.#retryMs * 2, LONGEST_RETRY_MS);
  }

  #setState(state: StreamState): void {
    this.#state = state;
    this.#events.onState(state);
  }
}
