/**
 * The client side of the fan-out benchmark, run as its own process the way phones are separate
 * from the gateway: opens `count` subscriptions to demand updates, prints `ready` once every one
 * is connected, and when each has seen the value `last`, prints one JSON line: for every received
 * value, the wall-clock times (ms, sub-ms precision) it arrived.
 *
 * Two kinds of client: `graphql-sse` (the npm client, distinct-connections mode) and `stream`, what
 * a phone's `EventSource` or streaming HTTP does: one POST with `Accept: text/event-stream`, the
 * body read as it comes and split into events.
 *
 * Run by `bench/graphql.ts`: `deno run --allow-net=127.0.0.1 --allow-env bench/fanout_clients.ts
 * <graphql url> <count> <last> <graphql-sse|stream>` with the owner's cookie in
 * `OPENSEG_BENCH_COOKIE`.
 *
 * @module
 */

import { createClient } from "graphql-sse";

const [url, countText, lastText, kind] = Deno.args;
const count = Number(countText);
const last = Number(lastText);
const cookie = Deno.env.get("OPENSEG_BENCH_COOKIE") ?? "";
const query = "subscription { demand { demand { signedDemandW } } }";
const wallNowMs = () => performance.timeOrigin + performance.now();

const receivedAtMs = new Map<number, number[]>();
let connected = 0;
const onConnected = () => {
  if (++connected === count) console.log("ready");
};
/** Records one update; true once it was the last. */
const onUpdate = (value: number, atMs: number): boolean => {
  const times = receivedAtMs.get(value) ?? [];
  times.push(atMs);
  receivedAtMs.set(value, times);
  return value === last;
};

async function graphqlSseClient(): Promise<void> {
  const client = createClient({ url, headers: { Cookie: cookie }, retryAttempts: 0 });
  for await (const result of client.iterate({ query }, { connected: onConnected })) {
    // deno-lint-ignore no-explicit-any
    if (onUpdate((result.data as any).demand.demand.signedDemandW, wallNowMs())) break;
  }
  client.dispose();
}

async function streamClient(): Promise<void> {
  const response = await fetch(url, {
    method: "POST",
    headers: { Cookie: cookie, "Content-Type": "application/json", Accept: "text/event-stream" },
    body: JSON.stringify({ query }),
  });
  onConnected();
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) return;
    const atMs = wallNowMs();
    buffered += value;
    let end: number;
    while ((end = buffered.indexOf("\n\n")) >= 0) {
      const event = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const data = event.split("\n").find((line) => line.startsWith("data: "));
      if (!event.startsWith("event: next") || data === undefined) continue;
      if (onUpdate(JSON.parse(data.slice(6)).data.demand.demand.signedDemandW, atMs)) {
        await reader.cancel();
        return;
      }
    }
  }
}

const done = Array.from(
  { length: count },
  () => kind === "stream" ? streamClient() : graphqlSseClient(),
);
await Promise.race([Promise.all(done), new Promise((resolve) => setTimeout(resolve, 60_000))]);
console.log(JSON.stringify(Object.fromEntries(receivedAtMs)));
Deno.exit(0);
