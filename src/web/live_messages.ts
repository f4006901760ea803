/**
 * What a dashboard tab and the shared live worker (`live_worker.ts`) say to each other.
 *
 * @module
 */

import type { StreamState } from "./live.ts";

export type ToWorker =
  | { type: "subscribe"; id: string; query: string }
  | { type: "unsubscribe"; id: string }
  /** The tab is going away: everything it subscribed to ends. */
  | { type: "bye" };

export type ToPage =
  | { type: "state"; state: StreamState }
  | { type: "open" }
  | { type: "data"; id: string; data: unknown };
