/**
 * Households over GraphQL: the role directives (`@administrator`, `@household`), `viewer.roles`,
 * the administrator's `households` list and a household's export switch, in a single home (one
 * person, both roles, nothing changes) and in a building (two households, three meters, see
 * `tests/building.ts`). Every query, mutation and subscription is asked from each side for the
 * other's meters: nothing crosses, and another household's meter answers exactly like an unknown
 * one. Subscriptions are checked over both SSE transports, with both households subscribed to the
 * same document at once (they must not share one execution).
 *
 * @module
 */

import assert from "node:assert/strict";
import { createClient } from "graphql-sse";
import { admitRequest } from "../../src/graphql/access.ts";
import { demandUpdates } from "../../src/graphql/live.ts";
import { assignMeter } from "../../src/store/households.ts";
import { openDatabase } from "../../src/store/db.ts";
import { type Building, makeBuilding } from "../building.ts";
import { type GatewayFixture, type GraphqlReply, startGatewayFixture } from "./fixture.ts";
import { waitForMeters } from "./fixture.ts";

/** The one error of a refused request: its code and message. */
function refused(reply: GraphqlReply): { code: string | undefined; message: string } {
  assert.equal(reply.errors.length, 1, JSON.stringify(reply.errors));
  return { code: reply.errors[0].extensions?.code, message: reply.errors[0].message };
}

async function building(speed = 30): Promise<{ fixture: GatewayFixture; building: Building }> {
  const fixture = await startGatewayFixture({ simulated: 3, speed });
  try {
    await waitForMeters(fixture, 3);
    return { fixture, building: makeBuilding(fixture.db) };
  } catch (error) {
    await fixture.close();
    throw error;
  }
}

Deno.test("single home: the signed-in person has both roles and the export switch changes nothing", async () => {
  const fixture = await startGatewayFixture({ simulated: 1 });
  try {
    const [meterId] = await waitForMeters(fixture, 1);
    const reply = await fixture.graphql(`{
      viewer { kind roles household { id name exportAllowed exportAllowedSince meters { id } } }
      gateway { singleHome radios { port } }
      households { id name meters { id } }
      meters { id messages { id } }
    }`);
    assert.deepEqual(reply.errors, []);
    assert.deepEqual(reply.data.viewer, {
      kind: "OWNER",
      roles: ["ADMINISTRATOR", "HOUSEHOLD"],
      household: {
        id: "1",
        name: "Home",
        exportAllowed: true,
        exportAllowedSince: null,
        meters: [{ id: meterId }],
      },
    });
    assert.equal(reply.data.gateway.singleHome, true);
    assert.equal(reply.data.gateway.radios.length, 1);
    assert.deepEqual(reply.data.households, [{ id: "1", name: "Home", meters: [{ id: meterId }] }]);
    const off = await fixture.graphql(
      "mutation { setExportAllowed(allowed: false) { id exportAllowed } }",
    );
    assert.deepEqual(off.data, { setExportAllowed: { id: "1", exportAllowed: true } });
  } finally {
    await fixture.close();
  }
});

Deno.test("building: a household reads only its own meters; another's answers like an unknown one", async () => {
  const { fixture, building: { a, b } } = await building();
  try {
    for (const [me, other] of [[a, b], [b, a]]) {
      const as = { as: null, headers: { Cookie: me.cookie } };
      const mine = await fixture.graphql(
        `{ viewer { kind roles household { id name meters { id } } }
           gateway { singleHome } meters { id demand { demandW } messages { id } } }`,
        as,
      );
      assert.deepEqual(mine.errors, []);
      assert.deepEqual(mine.data.viewer, {
        kind: "OWNER",
        roles: ["HOUSEHOLD"],
        household: {
          id: String(me.householdId),
          name: me.name,
          meters: me.meterIds.map((id) => ({ id })),
        },
      });
      assert.equal(mine.data.gateway.singleHome, false);
      assert.deepEqual(mine.data.meters.map((meter: { id: string }) => meter.id), me.meterIds);
      assert.ok(JSON.stringify(mine).indexOf(other.meterIds[0]) === -1);

      // The neighbour's meter, by query and by every mutation naming a meter, is "no such meter".
      const unknown = "up-does-not-exist";
      for (const id of [other.meterIds[0], unknown]) {
        const query = refused(
          await fixture.graphql(`query ($id: ID!) { meter(id: $id) { id } }`, {
            ...as,
            variables: { id },
          }),
        );
        assert.deepEqual(query, { code: "NOT_FOUND", message: `no meter with id ${id}` });
        const rename = refused(
          await fixture.graphql(
            `mutation ($id: ID!) { renameMeter(id: $id, name: "mine now") { id } }`,
            { ...as, variables: { id } },
          ),
        );
        assert.deepEqual(rename, query);
        const confirm = refused(
          await fixture.graphql(
            `mutation ($id: ID!) { confirmMessage(meterId: $id, messageId: "1") { sentAt } }`,
            { ...as, variables: { id } },
          ),
        );
        assert.deepEqual(confirm, query);
      }

      // The administrator's fields are refused in plain words.
      for (
        const [document, coordinate] of [
          ["{ gateway { radios { port } } }", "Gateway.radios"],
          ["{ households { id } }", "Query.households"],
          [
            `mutation { registerApp(input: { name: "x", redirectUris: ["https://x.example/cb"] })
              { app { id } } }`,
            "Mutation.registerApp",
          ],
        ]
      ) {
        const refusal = refused(await fixture.graphql(document, as));
        assert.equal(refusal.code, "FORBIDDEN", document);
        assert.equal(
          refusal.message,
          `${coordinate} is only for the gateway's administrator; a household cannot see or ` +
            "change it",
        );
      }
    }
  } finally {
    await fixture.close();
  }
});

Deno.test("building: the administrator sees households, meters and link health, but no readings", async () => {
  const { fixture, building: { a, b, administratorCookie } } = await building();
  try {
    const as = { as: null, headers: { Cookie: administratorCookie } };
    const reply = await fixture.graphql(
      `{ viewer { kind roles household { id } }
         gateway { singleHome radios { port linkState } }
         households { id name exportAllowed meters { id lastSeenAt join { connected } } }
         meters { id name lastSeenAt } }`,
      as,
    );
    assert.deepEqual(reply.errors, []);
    assert.deepEqual(reply.data.viewer, {
      kind: "OWNER",
      roles: ["ADMINISTRATOR"],
      household: null,
    });
    assert.equal(reply.data.gateway.radios.length, 3);
    assert.deepEqual(
      reply.data.households.map((household: { id: string; meters: { id: string }[] }) => ({
        id: household.id,
        meters: household.meters.map((meter) => meter.id),
      })),
      [
        { id: String(a.householdId), meters: a.meterIds },
        { id: String(b.householdId), meters: b.meterIds },
      ],
    );
    assert.ok(reply.data.households.every((h: { exportAllowed: boolean }) => !h.exportAllowed));
    assert.equal(reply.data.meters.length, 3);

    // Readings are refused whole, with the reason.
    for (const field of ["demand { demandW }", "usage(period: TODAY) { deliveredWh }"]) {
      const refusal = refused(await fixture.graphql(`{ meters { id ${field} } }`, as));
      assert.equal(refusal.code, "FORBIDDEN");
      assert.match(refusal.message, /administrator reads no household's meter readings/);
    }
    // Customer data and its controls are the households'.
    const [meterId] = a.meterIds;
    for (
      const [document, coordinate] of [
        [`{ meter(id: "${meterId}") { messages { id } } }`, "Meter.messages"],
        ["mutation { setExportAllowed(allowed: true) { id } }", "Mutation.setExportAllowed"],
        [
          `mutation { confirmMessage(meterId: "${meterId}", messageId: "1") { sentAt } }`,
          "Mutation.confirmMessage",
        ],
        [`mutation { revokeAuthorization(id: "x") { id } }`, "Mutation.revokeAuthorization"],
        [
          `mutation { approveApp(input: { appId: "x", meterIds: ["${meterId}"] }) { id } }`,
          "Mutation.approveApp",
        ],
      ]
    ) {
      const refusal = refused(await fixture.graphql(document, as));
      assert.equal(refusal.code, "FORBIDDEN", document);
      assert.equal(
        refusal.message,
        `${coordinate} is only for a household: the administrator reads and changes no ` +
          "household's data; sign in as the household",
      );
    }
  } finally {
    await fixture.close();
  }
});

Deno.test("building: a household turns its own export switch; the neighbour's stays off", async () => {
  const { fixture, building: { a, b, administratorCookie } } = await building();
  try {
    const before = Date.now();
    const on = await fixture.graphql(
      "mutation { setExportAllowed(allowed: true) { id exportAllowed exportAllowedSince } }",
      { as: null, headers: { Cookie: a.cookie } },
    );
    assert.deepEqual(on.errors, []);
    assert.equal(on.data.setExportAllowed.id, String(a.householdId));
    assert.equal(on.data.setExportAllowed.exportAllowed, true);
    const sinceMs = Date.parse(on.data.setExportAllowed.exportAllowedSince);
    assert.ok(sinceMs >= before && sinceMs <= Date.now());
    // Turned on again, it keeps its moment: nothing from before becomes exportable.
    const again = await fixture.graphql(
      "mutation { setExportAllowed(allowed: true) { exportAllowedSince } }",
      { as: null, headers: { Cookie: a.cookie } },
    );
    assert.equal(Date.parse(again.data.setExportAllowed.exportAllowedSince), sinceMs);

    const list = await fixture.graphql("{ households { id exportAllowed } }", {
      as: null,
      headers: { Cookie: administratorCookie },
    });
    assert.deepEqual(list.data.households, [
      { id: String(a.householdId), exportAllowed: true },
      { id: String(b.householdId), exportAllowed: false },
    ]);
    const off = await fixture.graphql(
      "mutation { setExportAllowed(allowed: false) { exportAllowed exportAllowedSince } }",
      { as: null, headers: { Cookie: a.cookie } },
    );
    assert.deepEqual(off.data.setExportAllowed, { exportAllowed: false, exportAllowedSince: null });
    // An app, even one a household granted, cannot turn it.
    const app = fixture.appToken({ scope: "FB=1_3_4_5_13_14_39", meterIds: a.meterIds });
    const byApp = refused(
      await fixture.graphql("mutation { setExportAllowed(allowed: true) { id } }", {
        as: app.token,
      }),
    );
    assert.deepEqual(byApp, {
      code: "FORBIDDEN",
      message: "Mutation.setExportAllowed is only for the gateway's owner",
    });
  } finally {
    await fixture.close();
  }
});

interface Result {
  data?: Record<string, { meterId: string }> | null;
  errors?: readonly { extensions?: { code?: string } }[];
}

/**
 * The first `count` results of a subscription, then it is ended; a refusal (an error result, or
 * the errors a transport rejects with) is the last result.
 */
async function take(
  client: ReturnType<typeof createClient>,
  query: string,
  count: number,
): Promise<Result[]> {
  const taken: Result[] = [];
  try {
    for await (const result of client.iterate<Record<string, { meterId: string }>>({ query })) {
      taken.push(result as Result);
      if (taken.length === count || result.errors !== undefined) break;
    }
  } catch (errors) {
    taken.push({ errors: Array.isArray(errors) ? errors : [errors as Error] });
  }
  return taken;
}

for (const singleConnection of [false, true]) {
  const transport = singleConnection ? "single-connection" : "distinct-connections";
  Deno.test(`building (${transport}): each household's subscriptions carry only its meters`, async () => {
    // At 120× a 5-minute interval completes every 2.5 s of wall time.
    const { fixture, building: { a, b, administratorCookie } } = await building(120);
    const clients = [a, b].map((resident) =>
      createClient({
        url: `${fixture.url}/graphql`,
        headers: { Cookie: resident.cookie },
        singleConnection,
        retryAttempts: 0,
      })
    );
    const administrator = createClient({
      url: `${fixture.url}/graphql`,
      headers: { Cookie: administratorCookie },
      singleConnection,
      retryAttempts: 0,
    });
    try {
      // Both households subscribe with the same documents at once.
      const demand = "subscription { demand { meterId demand { demandW } } }";
      const intervals = "subscription { intervals { meterId interval { deliveredWh } } }";
      const results = await Promise.all(
        clients.flatMap((client) => [take(client, demand, 12), take(client, intervals, 2)]),
      );
      const [aDemand, aIntervals, bDemand, bIntervals] = results;
      for (
        const [updates, owner, field] of [
          [aDemand, a, "demand"],
          [aIntervals, a, "intervals"],
          [bDemand, b, "demand"],
          [bIntervals, b, "intervals"],
        ] as const
      ) {
        assert.equal(updates.length, field === "demand" ? 12 : 2, JSON.stringify(updates));
        assert.ok(updates.every((update) => update.errors === undefined));
        const meterIds = new Set(updates.map((update) => update.data![field].meterId));
        assert.deepEqual(
          [...meterIds].filter((id) => !owner.meterIds.includes(id)),
          [],
          `${owner.name}'s ${field} carried another household's meter`,
        );
      }
      // Household A has two meters: both of them reached it.
      assert.equal(new Set(aDemand.map((update) => update.data!.demand.meterId)).size, 2);

      // The administrator of a building gets no readings events, but link changes are its own.
      for (const document of [demand, intervals]) {
        const [refusal] = await take(administrator, document, 1);
        assert.equal(refusal.errors?.[0].extensions?.code, "FORBIDDEN", document);
        assert.equal(refusal.data ?? null, null);
      }
      const [messages] = await take(administrator, "subscription { messages { meterId } }", 1);
      assert.equal(messages.errors?.[0].extensions?.code, "FORBIDDEN");
    } finally {
      for (const client of [...clients, administrator]) client.dispose();
      await fixture.close();
    }
  });
}

for (const how of ["this process", "another process"] as const) {
  Deno.test(`building: a meter reassigned by ${how} while a household streams leaves its stream`, async () => {
    const { fixture, building: { a, b } } = await building(120);
    const client = createClient({
      url: `${fixture.url}/graphql`,
      headers: { Cookie: a.cookie },
      retryAttempts: 0,
    });
    try {
      const demand = "subscription { demand { meterId } }";
      const seen = new Set<string>();
      let movedAtMs: number | null = null;
      const afterMove: string[] = [];
      for await (
        const result of client.iterate<{ demand: { meterId: string } }>({ query: demand })
      ) {
        assert.equal(result.errors, undefined, "the stream goes on: it follows the policy");
        const meterId = result.data!.demand.meterId;
        if (movedAtMs === null) {
          seen.add(meterId);
          if (seen.size < 2) continue;
          // A's second meter goes to B.
          if (how === "this process") assignMeter(fixture.db, a.meterKeys[1], b.householdId);
          else {
            // As `openseg households assign` run beside the gateway would: its own connection
            // to the file, no notice here.
            const other = openDatabase(fixture.db.location()!);
            other.prepare("UPDATE meters SET household_id = ? WHERE meter_key = ?")
              .run(b.householdId, a.meterKeys[1]);
            other.close();
          }
          movedAtMs = performance.now();
        } else if (performance.now() - movedAtMs > 1500) {
          // Another process's change is seen within a second; past that, A's first meter only.
          afterMove.push(meterId);
          if (afterMove.length >= 20) break;
        }
      }
      assert.deepEqual(new Set(afterMove), new Set([a.meterIds[0]]));
    } finally {
      client.dispose();
      await fixture.close();
    }
  });
}

Deno.test("building: a live source stops carrying a meter as soon as this process reassigns it", async () => {
  const { fixture, building: { a, b } } = await building(120);
  // The source itself, without the stream's credential re-check that would end it.
  const request = new Request(`${fixture.url}/graphql`, { headers: { Cookie: a.cookie } });
  const access = admitRequest(request, fixture.services);
  assert.ok(!(access instanceof Response));
  const updates = demandUpdates({ bus: fixture.bus, db: fixture.db, access });
  // What the bus publishes after the move, as `time/demand` of A's first meter: the source
  // yields in publish order, so once one of these came out, whatever was queued before the move
  // has come out too.
  let moved = false;
  const published = new Set<string>();
  const stopObserving = fixture.bus.observe((event) => {
    if (moved && event.type === "stored" && event.event.kind === "demand") {
      if (event.meterKey === a.meterKeys[0]) {
        published.add(`${event.event.timeMs}/${event.event.demandW}`);
      }
    }
  });
  try {
    const seen = new Set<string>();
    while (seen.size < 2) seen.add((await updates.next()).value!.meterId);
    assignMeter(fixture.db, a.meterKeys[1], b.householdId);
    moved = true;
    const afterMove: string[] = [];
    while (afterMove.length < 20) {
      const { meterId, demand } = (await updates.next()).value!;
      if (afterMove.length > 0 || published.has(`${demand.timeMs}/${demand.demandW}`)) {
        afterMove.push(meterId);
      }
    }
    assert.deepEqual(afterMove.filter((id) => id !== a.meterIds[0]), []);
  } finally {
    stopObserving();
    await updates.return?.();
    await fixture.close();
  }
});

Deno.test("building: one household's single-connection stream is unknown to the other", async () => {
  const { fixture, building: { a, b } } = await building();
  const streamRequest = (cookie: string, method: string, token?: string, body?: unknown) =>
    fetch(`${fixture.url}/graphql`, {
      method,
      headers: {
        Cookie: cookie,
        ...(token === undefined ? {} : { "X-GraphQL-Event-Stream-Token": token }),
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  try {
    const reserved = await streamRequest(a.cookie, "PUT");
    assert.equal(reserved.status, 201);
    const token = await reserved.text();
    // B, even holding A's token, can neither read A's stream nor put an operation on it.
    for (
      const [method, body] of [
        ["GET", undefined],
        ["POST", {
          query: "subscription { demand { meterId } }",
          extensions: { operationId: "x" },
        }],
        ["DELETE", undefined],
      ] as const
    ) {
      const reply = await streamRequest(b.cookie, method, token, body);
      assert.equal(reply.status, 404, method);
      assert.equal((await reply.json()).errors[0].extensions.code, "NOT_FOUND");
    }
    // A's own stream is still there for A.
    const own = await streamRequest(a.cookie, "GET", token);
    assert.equal(own.status, 200);
    assert.equal(own.headers.get("content-type"), "text/event-stream; charset=utf-8");
    await own.body?.cancel();
  } finally {
    await fixture.close();
  }
});
