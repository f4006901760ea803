/**
 * Function blocks through real HTTP: an app granted only interval data reads intervals and is
 * refused demand, prices, costs, summaries and messages (queries, fragments, one operation of
 * several, and a demand subscription over server-sent events) with one `FORBIDDEN` error naming
 * the fields and the function blocks; apps granted FB 6 or 12 read demand or prices; the owner
 * reads everything; `viewer.grantedData` lists the grant. And the `GrantedData` enum cannot drift
 * from the table in `src/auth/granted_data.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parse } from "graphql";
import { createClient } from "graphql-sse";
import { GRANTED_DATA_KINDS } from "../../src/auth/granted_data.ts";
import { grantedDataFields } from "../../src/graphql/granted_data.ts";
import { buildGraphqlSchema, SCHEMA_URL } from "../../src/graphql/server.ts";
import {
  type GatewayFixture,
  type GraphqlReply,
  startGatewayFixture,
  waitForMeters,
} from "./fixture.ts";

const INTERVALS_ONLY = "FB=1_4_5;IntervalDuration=900;HistoryLength=86400";
const WITH_DEMAND = "FB=1_4_5_6;IntervalDuration=900;HistoryLength=86400";
const WITH_COST = "FB=1_4_5_12;IntervalDuration=900;HistoryLength=86400";

/** The one refusal of a whole operation: no data, one FORBIDDEN error; returns its message. */
function refusal(reply: GraphqlReply): string {
  assert.equal(reply.data ?? null, null, JSON.stringify(reply.data));
  assert.equal(reply.errors.length, 1, JSON.stringify(reply.errors));
  assert.equal(reply.errors[0].extensions?.code, "FORBIDDEN");
  return reply.errors[0].message;
}

function range() {
  return {
    from: new Date(Date.now() - 6 * 3_600_000).toISOString(),
    to: new Date(Date.now() + 3_600_000).toISOString(),
  };
}

Deno.test("the GrantedData enum names exactly the table's kinds, and every use is one", async () => {
  const sdl = await Deno.readTextFile(SCHEMA_URL);
  const enumNode = parse(sdl).definitions.find((definition) =>
    definition.kind === "EnumTypeDefinition" && definition.name.value === "GrantedData"
  );
  assert.ok(enumNode?.kind === "EnumTypeDefinition");
  assert.deepEqual(enumNode.values?.map((value) => value.name.value), GRANTED_DATA_KINDS);
  // Drift either way stops the server from starting (and so fails every GraphQL test).
  const extra = sdl.replace("enum GrantedData {", "enum GrantedData {\n  GAS");
  assert.throws(() => buildGraphqlSchema(extra), /GrantedData\.GAS has no internal value/);
  const missing = sdl.replace(/\n {2}"Register readings[^\n]*\n {2}REGISTERS\n/, "\n");
  assert.throws(() => buildGraphqlSchema(missing), /GrantedData\.REGISTERS/);
  const unknown = sdl.replace(
    "demand: Demand @grantedData(data: DEMAND)",
    "demand: Demand @grantedData(data: GAS)",
  );
  assert.notEqual(unknown, sdl);
  assert.throws(() => grantedDataFields(buildGraphqlSchema(unknown)), /Meter\.demand/);
  // Each marked field names a kind of the table.
  const fields = grantedDataFields(buildGraphqlSchema(sdl));
  const byName = new Map([...fields].map(([field, data]) => [field.name, data]));
  assert.equal(byName.get("demandSeries"), "DEMAND");
  assert.equal(byName.get("peakDemandW"), "PEAK_DEMAND");
  assert.deepEqual(new Set(fields.values()), new Set(GRANTED_DATA_KINDS));
});

Deno.test("an app granted interval data only: intervals yes, everything else refused", async () => {
  const fixture = await startGatewayFixture({ simulated: 1 });
  try {
    const [meterId] = await waitForMeters(fixture, 1);
    const app = fixture.appToken({ scope: INTERVALS_ONLY, meterIds: [meterId] });
    const asApp = (query: string) =>
      fixture.graphql(query, { as: app.token, variables: { id: meterId, ...range() } });
    const vars = "($id: ID!, $from: DateTime!, $to: DateTime!)";

    // Interval energy is granted (FB 4, 5), and so is basic meter information (FB 1).
    const intervals = `query ${vars} { meter(id: $id) { id name lastSeenAt join { connected }
      intervals(from: $from, to: $to) { start durationS deliveredWh quality } } }`;
    let reply = await asApp(intervals);
    for (let i = 0; i < 100 && (reply.data?.meter?.intervals.length ?? 0) === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      reply = await asApp(intervals);
    }
    assert.deepEqual(reply.errors, []);
    assert.ok(reply.data.meter.intervals.length > 0, "15-minute intervals of the backfill");
    assert.equal(reply.data.meter.intervals[0].durationS, 900);

    // Demand needs FB 6: the whole operation is refused, intervals included.
    const demand = refusal(
      await asApp(`query ${vars} { meter(id: $id) { intervals(from: $from, to: $to) { start }
        demand { demandW } demandSeries(from: $from, to: $to, bucket: ONE_HOUR) { avgW } } }`),
    );
    assert.equal(
      demand.split(". ")[0],
      "this app's grant does not include power demand (ESPI function block 6): " +
        "Meter.demand, Meter.demandSeries",
    );
    // Prices and costs need FB 12 (or 16); one error names every missing kind.
    const cost = refusal(
      await asApp(`query ${vars} { meter(id: $id) { price { ratePerKWh }
        intervals(from: $from, to: $to) { deliveredWh receivedWh cost currency } } }`),
    );
    assert.match(
      cost,
      /energy sent to the grid \(ESPI function blocks 7 or 8\): IntervalReading\.receivedWh; /,
    );
    assert.match(
      cost,
      /prices and costs \(ESPI function blocks 12 or 16\): Meter\.price, IntervalReading\.cost, IntervalReading\.currency/,
    );
    // Summaries and register readings; fields reached through a fragment count too.
    assert.match(
      refusal(
        await asApp(`query ($id: ID!) { meter(id: $id) { ...Summary } }
        fragment Summary on Meter { usage(period: TODAY) { deliveredWh } summation { at } }`),
      ),
      /meter register readings \(ESPI function block 9\): Meter\.summation; usage summaries \(ESPI function blocks 15, 16 or 20\): Meter\.usage/,
    );
    // Of several operations in one document, the one that runs is what counts.
    const twoOperations = (operationName: string) =>
      fetch(`${fixture.url}/graphql`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${app.token}` },
        body: JSON.stringify({
          query: "query Ids { meters { id } } query Live { meters { demand { at } } }",
          operationName,
        }),
      }).then(async (response) => ({ status: response.status, ...(await response.json()) }));
    assert.deepEqual((await twoOperations("Ids")).data, { meters: [{ id: meterId }] });
    const live = await twoOperations("Live");
    assert.match(refusal({ ...live, errors: live.errors ?? [] }), /Meter\.demand/);
    // Utility messages are the owner's.
    const messages = refusal(
      await asApp(`query ($id: ID!) { meter(id: $id) { messages { id } } }`),
    );
    assert.match(messages, /Meter\.messages is only for the gateway's owner/);

    // What the app may ask for, and the same on its consent description.
    const viewer = await asApp("{ viewer { kind grantedData scopeDescription } }");
    assert.deepEqual(viewer.data.viewer.grantedData, ["METER_INFO", "INTERVAL_ENERGY"]);
    assert.equal(
      viewer.data.viewer.scopeDescription[0],
      "Which data: basic meter information; electricity use per time interval.",
    );
    // The same document, already run (and cached) for the owner, is still refused to the app,
    // every time.
    const latest = `query ($id: ID!) { meter(id: $id) { demand { demandW } } }`;
    const owner = await fixture.graphql(latest, { variables: { id: meterId } });
    assert.equal(typeof owner.data.meter.demand.demandW, "number");
    for (let i = 0; i < 2; i++) assert.match(refusal(await asApp(latest)), /Meter\.demand/);
  } finally {
    await fixture.close();
  }
});

Deno.test("FB 6 reads demand, FB 12 prices and costs; the owner reads everything", async () => {
  const fixture = await startGatewayFixture({ simulated: 1 });
  try {
    const [meterId] = await waitForMeters(fixture, 1);
    const variables = { id: meterId, ...range() };
    const vars = "($id: ID!, $from: DateTime!, $to: DateTime!)";
    const demandQuery = `query ${vars} { meter(id: $id) { demand { demandW at }
      demandSeries(from: $from, to: $to, bucket: ONE_HOUR) { avgW } } }`;
    const costQuery = `query ${vars} { meter(id: $id) { price { ratePerKWh currency }
      intervals(from: $from, to: $to) { cost currency } } }`;

    const demandApp = fixture.appToken({ scope: WITH_DEMAND, meterIds: [meterId] });
    const demand = await fixture.graphql(demandQuery, { as: demandApp.token, variables });
    assert.deepEqual(demand.errors, []);
    assert.equal(typeof demand.data.meter.demand.demandW, "number");
    assert.match(
      refusal(await fixture.graphql(costQuery, { as: demandApp.token, variables })),
      /12 or 16/,
    );

    const costApp = fixture.appToken({ scope: WITH_COST, meterIds: [meterId] });
    const cost = await fixture.graphql(costQuery, { as: costApp.token, variables });
    assert.deepEqual(cost.errors, []);
    assert.equal(cost.data.meter.price.currency, "USD");
    assert.match(
      refusal(await fixture.graphql(demandQuery, { as: costApp.token, variables })),
      /block 6/,
    );

    const everything = await fixture.graphql(
      `query ${vars} { viewer { grantedData } meter(id: $id) { name join { connected }
        demand { demandW } summation { deliveredWh receivedWh } price { ratePerKWh }
        messages { id } demandSeries(from: $from, to: $to) { avgW }
        intervals(from: $from, to: $to) { deliveredWh receivedWh cost currency }
        usage(period: LAST_24_HOURS) { netWh cost currency unpricedWh peakDemandW peakAt } } }`,
      { variables },
    );
    assert.deepEqual(everything.errors, []);
    assert.equal(everything.data.viewer.grantedData, null);
    assert.equal(typeof everything.data.meter.usage.peakDemandW, "number");
  } finally {
    await fixture.close();
  }
});

function sseClient(fixture: GatewayFixture, token: string) {
  return createClient({
    url: `${fixture.url}/graphql`,
    headers: { Authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
}

Deno.test("a demand subscription over SSE needs FB 6 as well", async () => {
  const fixture = await startGatewayFixture({ simulated: 1 });
  const [meterId] = await waitForMeters(fixture, 1);
  const intervalsApp = fixture.appToken({ scope: INTERVALS_ONLY, meterIds: [meterId] });
  const demandApp = fixture.appToken({ scope: WITH_DEMAND, meterIds: [meterId] });
  const refused = sseClient(fixture, intervalsApp.token);
  const allowed = sseClient(fixture, demandApp.token);
  const query = "subscription { demand { meterId demand { demandW } } }";
  try {
    const results = [];
    for await (const result of refused.iterate({ query })) results.push(result);
    assert.equal(results.length, 1, JSON.stringify(results));
    assert.equal(results[0].data ?? null, null);
    assert.equal(results[0].errors?.length, 1);
    assert.equal(results[0].errors?.[0].extensions?.code, "FORBIDDEN");
    assert.match(
      results[0].errors![0].message,
      /^this app's grant does not include power demand \(ESPI function block 6\): Subscription\.demand\./,
    );
    for await (const result of allowed.iterate({ query })) {
      assert.equal(result.errors, undefined);
      assert.equal((result.data!.demand as { meterId: string }).meterId, meterId);
      break;
    }
  } finally {
    refused.dispose();
    allowed.dispose();
    await fixture.close();
  }
});
