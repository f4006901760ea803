/**
 * The dashboard's shared worker: ONE live connection (`live.ts`) for every tab of the gateway in
 * this browser, so ten tabs hold one event stream, not ten (browsers allow six HTTP/1.1
 * connections per host, streams included). Tabs talk to it over their `MessagePort` with the
 * messages of `live_messages.ts`; identical subscriptions of several tabs share one operation.
 * Bundled by `build.ts` as `live.js`.
 *
 * @module
 */

/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="esnext" />

import { LiveConnection } from "./live.ts";
import type { ToPage, ToWorker } from "./live_messages.ts";

const ports = new Set<MessagePort>();

function broadcast(message: ToPage): void {
  for (const port of ports) port.postMessage(message);
}

const live = new LiveConnection({
  onState: (state) => broadcast({ type: "state", state }),
  onOpen: () => broadcast({ type: "open" }),
});

globalThis.addEventListener("connect", (event) => {
  const port = (event as MessageEvent).ports[0];
  const stops = new Map<string, () => void>();
  port.addEventListener("message", (message: MessageEvent<ToWorker>) => {
    const request = message.data;
    if (request.type === "subscribe") {
      stops.get(request.id)?.();
      stops.set(
        request.id,
        live.subscribe(
          request.query,
          (data) => port.postMessage({ type: "data", id: request.id, data }),
        ),
      );
    } else if (request.type === "unsubscribe") {
      stops.get(request.id)?.();
      stops.delete(request.id);
    } else {
      for (const stop of stops.values()) stop();
      stops.clear();
      ports.delete(port);
    }
  });
  port.start();
  ports.add(port);
  port.postMessage({ type: "state", state: live.state } satisfies ToPage);
  if (live.state === "open") port.postMessage({ type: "open" } satisfies ToPage);
});
