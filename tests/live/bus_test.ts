import assert from "node:assert/strict";
import { LiveBus, type LiveEvent } from "../../src/live/bus.ts";

const link = (port: string, atMs: number): LiveEvent => ({
  type: "link",
  port,
  state: "connected",
  detail: null,
  atMs,
});

Deno.test("every subscriber gets every event in order; close ends the iteration", async () => {
  const bus = new LiveBus();
  const a = bus.subscribe();
  const b = bus.subscribe();
  assert.equal(bus.subscriberCount, 2);
  for (let i = 0; i < 3; i++) bus.publish(link("p", i));
  for (const subscription of [a, b]) {
    const seen: number[] = [];
    for await (const event of subscription) {
      if (event.type === "link") seen.push(event.atMs);
      if (seen.length === 3) break; // break calls return(), which closes
    }
    assert.deepEqual(seen, [0, 1, 2]);
  }
  assert.equal(bus.subscriberCount, 0);
});

Deno.test("a waiting subscriber is woken by publish, and by close", async () => {
  const bus = new LiveBus();
  const subscription = bus.subscribe();
  const next = subscription.next();
  bus.publish(link("p", 42));
  assert.deepEqual((await next).value, link("p", 42));
  const pending = subscription.next();
  subscription.close();
  assert.equal((await pending).done, true);
});

Deno.test("filters apply; a slow subscriber drops its oldest events and never blocks others", async () => {
  const bus = new LiveBus();
  const slow = bus.subscribe({ maxQueued: 10 });
  const onlyA = bus.subscribe({ filter: (e) => e.type === "link" && e.port === "a" });
  for (let i = 0; i < 100; i++) bus.publish(link(i % 2 === 0 ? "a" : "b", i));
  assert.equal(slow.dropped, 90);
  const first = await slow.next();
  assert.equal(first.value?.type === "link" && first.value.atMs, 90);
  const fromA = await onlyA.next();
  assert.equal(fromA.value?.type === "link" && fromA.value.port, "a");
  slow.close();
  onlyA.close();
});

Deno.test("observers see every event synchronously, hold nothing, and can stop", () => {
  const bus = new LiveBus();
  const seen: number[] = [];
  const stop = bus.observe((event) => event.type === "link" && seen.push(event.atMs));
  bus.observe(() => {
    throw new Error("a broken observer does not stop the others");
  });
  bus.publish(link("p", 1));
  assert.deepEqual(seen, [1]);
  stop();
  bus.publish(link("p", 2));
  assert.deepEqual(seen, [1]);
});
