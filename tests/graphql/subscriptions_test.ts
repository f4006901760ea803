/**
 * Subscriptions over real server-sent events with the `graphql-sse` client: demand updates caused
 * by fragments written on a pseudo-terminal, a link going `DISCONNECTED` when the pty master
 * closes, interval readings completing as a simulated meter runs, and the bus subscription ending
 * when the client goes away.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createClient } from "graphql-sse";
import { demandFragment, waitFor } from "../e2e/helpers.ts";
import { type GatewayFixture, SCRIPTED_METER, startGatewayFixture } from "./fixture.ts";

function sseClient(fixture: GatewayFixture, headers: Record<string, string> = {}) {
  return createClient({
    url: `${fixture.url}/graphql`,
    headers: { Cookie: fixture.ownerCookie, ...headers },
    retryAttempts: 0,
  });
}

/** Writes one demand fragment for the scripted meter and waits until the meter is listed. */
async function scriptedMeterId(fixture: GatewayFixture, timeMs: number): Promise<string> {
  await fixture.scripted!.announceMeter(SCRIPTED_METER);
  await fixture.scripted!.write(demandFragment(SCRIPTED_METER, timeMs, 100));
  let id: string | undefined;
  const deadline = Date.now() + 10_000;
  while (id === undefined && Date.now() < deadline) {
    const reply = await fixture.graphql("{ meters { id demand { signedDemandW } } }");
    id = reply.data.meters.find((m: { demand: { signedDemandW: number } | null }) =>
      m.demand?.signedDemandW === 100
    )?.id;
    if (id === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.ok(id, "the scripted meter appeared");
  return id;
}

Deno.test("a demand subscription receives what is written on the serial line", async () => {
  const fixture = await startGatewayFixture({ simulated: 0, scripted: true });
  const client = sseClient(fixture);
  try {
    const startS = Math.floor(Date.now() / 1000) - 60;
    const meterId = await scriptedMeterId(fixture, startS * 1000);
    const updates = client.iterate({
      query: `subscription ($id: ID) {
        demand(meterId: $id) { meterId demand { demandW signedDemandW direction at } } }`,
      variables: { id: meterId },
    });
    await waitFor("the subscriber on the bus", () => fixture.bus.subscriberCount === 1);
    const written = [1500, -700, 2300];
    for (const [i, demandW] of written.entries()) {
      await fixture.scripted!.write(
        demandFragment(SCRIPTED_METER, (startS + 1 + i) * 1000, demandW),
      );
    }
    const received: { meterId: string; demand: Record<string, unknown> }[] = [];
    for await (const result of updates) {
      assert.equal(result.errors, undefined);
      received.push(result.data!.demand as (typeof received)[number]);
      if (received.length === written.length) break;
    }
    assert.deepEqual(received.map((update) => update.demand.signedDemandW), written);
    assert.ok(received.every((update) => update.meterId === meterId));
    assert.deepEqual(received.map((update) => update.demand.direction), [
      "IMPORT",
      "EXPORT",
      "IMPORT",
    ]);
    assert.equal(received[1].demand.demandW, 700);
    assert.equal(received[0].demand.at, new Date((startS + 1) * 1000).toISOString());
    // The client left: its bus subscription is gone too.
    await waitFor("the bus subscription to close", () => fixture.bus.subscriberCount === 0);
  } finally {
    client.dispose();
    await fixture.close();
  }
});

Deno.test("a link state subscription sees DISCONNECTED when the pty master closes", async () => {
  const fixture = await startGatewayFixture({ simulated: 0, scripted: true });
  const client = sseClient(fixture);
  try {
    await scriptedMeterId(fixture, Date.now() - 5_000);
    const updates = client.iterate({
      query: "subscription { linkState { port state detail at } }",
    });
    await waitFor("the subscriber on the bus", () => fixture.bus.subscriberCount === 1);
    await fixture.scripted!.unplug();
    for await (const result of updates) {
      const update = result.data!.linkState as { port: string; state: string; detail: string };
      assert.equal(update.port, "scripted");
      if (update.state === "DISCONNECTED") {
        assert.match(update.detail, /hung up|read failed/);
        break;
      }
    }
  } finally {
    client.dispose();
    await fixture.close();
  }
});

Deno.test("an interval subscription receives intervals as they complete", async () => {
  // At 600× a 5-minute interval completes every half second of wall time.
  const fixture = await startGatewayFixture({ simulated: 1, speed: 600 });
  const client = sseClient(fixture);
  try {
    const updates = client.iterate({
      query: `subscription { intervals { meterId
        interval { start durationS deliveredWh receivedWh cost currency quality } } }`,
    });
    const received: { interval: { start: string; durationS: number } }[] = [];
    for await (const result of updates) {
      assert.equal(result.errors, undefined);
      received.push(result.data!.intervals as (typeof received)[number]);
      if (received.length === 3) break;
    }
    for (const { interval } of received) {
      assert.equal(interval.durationS, 300);
      assert.equal(new Date(interval.start).getTime() % 300_000, 0);
    }
    const starts = received.map(({ interval }) => new Date(interval.start).getTime());
    assert.deepEqual(
      starts,
      [...new Set(starts)].sort((a, b) => a - b),
      "each interval once, in order",
    );
  } finally {
    client.dispose();
    await fixture.close();
  }
});
