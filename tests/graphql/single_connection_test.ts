/**
 * graphql-sse's single-connection mode with the `graphql-sse` client (`singleConnection: true`):
 * two subscriptions and a query share one event stream; an app's stream gets only its granted
 * meters and function blocks; revoking the app's authorization ends its stream.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createClient } from "graphql-sse";
import { revokeAuthorization } from "../../src/auth/authorizations.ts";
import { waitFor } from "../e2e/helpers.ts";
import { type GatewayFixture, startGatewayFixture, waitForMeters } from "./fixture.ts";

const SCOPE = "FB=1_3_4_5_6_13_14_39;IntervalDuration=900";
/** No function block 6: no power demand. */
const NO_DEMAND_SCOPE = "FB=1_3_4_5_13_14_39;IntervalDuration=900";

function singleConnectionClient(fixture: GatewayFixture, headers: Record<string, string>) {
  return createClient({
    url: `${fixture.url}/graphql`,
    headers,
    singleConnection: true,
    retryAttempts: 0,
  });
}

/** The first `count` results of an iterator, then it is ended. */
async function take<T>(results: AsyncIterableIterator<T>, count: number): Promise<T[]> {
  const taken: T[] = [];
  for await (const result of results) {
    taken.push(result);
    if (taken.length === count) break;
  }
  return taken;
}

Deno.test("single-connection mode: subscriptions and a query share one stream", async () => {
  const fixture = await startGatewayFixture({ simulated: 2 });
  const client = singleConnectionClient(fixture, { Cookie: fixture.ownerCookie });
  try {
    const meterIds = await waitForMeters(fixture, 2);
    const demand = client.iterate<{ demand: { meterId: string } }>({
      query: "subscription { demand { meterId demand { demandW at } } }",
    });
    const [first] = meterIds;
    const one = client.iterate<{ demand: { meterId: string } }>({
      query: "subscription ($id: ID) { demand(meterId: $id) { meterId } }",
      variables: { id: first },
    });
    const [fromAll, fromOne] = await Promise.all([take(demand, 6), take(one, 2)]);
    assert.equal(fromAll.length, 6);
    assert.ok(fromAll.every((result) => meterIds.includes(result.data!.demand.meterId)));
    assert.deepEqual(fromOne.map((result) => result.data!.demand.meterId), [first, first]);

    const [version] = await take(client.iterate({ query: "{ gateway { version } }" }), 1);
    assert.deepEqual(version.data, { gateway: { version: "0.0.0-test" } });

    // A refused operation is answered on its POST, as GraphQL over HTTP says (no data: 4xx).
    await assert.rejects(
      take(client.iterate({ query: "{ nonsense }" }), 1),
      (error: unknown) => error instanceof Response ? error.status === 400 : true,
    );
  } finally {
    client.dispose();
    await fixture.close();
  }
});

Deno.test("single-connection mode: an app sees its meter only, until revoked", async () => {
  const fixture = await startGatewayFixture({ simulated: 2 });
  try {
    const [granted] = await waitForMeters(fixture, 2);
    const narrow = fixture.appToken({ scope: NO_DEMAND_SCOPE, meterIds: [granted] });
    const narrowClient = singleConnectionClient(fixture, {
      Authorization: `Bearer ${narrow.token}`,
    });
    const [refused] = await take(
      narrowClient.iterate({ query: "subscription { demand { meterId } }" }),
      1,
    );
    assert.equal(refused.errors?.[0].extensions?.code, "FORBIDDEN");
    assert.match(refused.errors![0].message, /function block 6/);
    narrowClient.dispose();

    const app = fixture.appToken({ scope: SCOPE, meterIds: [granted] });
    const client = singleConnectionClient(fixture, { Authorization: `Bearer ${app.token}` });
    const demand = client.iterate<{ demand: { meterId: string } }>({
      query: "subscription { demand { meterId } }",
    });
    const seen = await take(demand, 3);
    assert.deepEqual(seen.map((result) => result.data!.demand.meterId), [
      granted,
      granted,
      granted,
    ]);

    const again = client.iterate<{ demand: { meterId: string } }>({
      query: "subscription { demand { meterId } }",
    });
    const [next] = await take(again, 1);
    assert.equal(next.data!.demand.meterId, granted);
    const after: unknown[] = [];
    const ended = (async () => {
      try {
        for await (
          const result of client.iterate({ query: "subscription { demand { meterId } }" })
        ) {
          after.push(result);
        }
        return "completed";
      } catch {
        return "stream closed";
      }
    })();
    await waitFor("the app's subscription on the bus", () => fixture.bus.subscriberCount >= 1);
    revokeAuthorization(fixture.db, app.authorizationId, Date.now());
    assert.ok(["completed", "stream closed"].includes(await ended));
    // What came after the revocation is at most the UNAUTHENTICATED error, never data.
    const last = after.at(-1) as { data?: unknown; errors?: { extensions?: { code?: string } }[] };
    if (last !== undefined && last.data === undefined) {
      assert.equal(last.errors?.[0].extensions?.code, "UNAUTHENTICATED");
    }
    client.dispose();
  } finally {
    await fixture.close();
  }
});
