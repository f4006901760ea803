/**
 * Queries through real `fetch` against a gateway fed by simulated meters on pseudo-terminals:
 * the gateway and its radios, meters with their latest readings, series and usage summaries;
 * and the SDL/resolver drift check.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parse } from "graphql";
import { ERROR_CODES } from "../../src/graphql/errors.ts";
import { resolverDrift } from "../../src/graphql/drift.ts";
import { resolvers } from "../../src/graphql/resolvers.ts";
import { buildGraphqlSchema, SCHEMA_URL } from "../../src/graphql/server.ts";
import { startGatewayFixture, waitForMeters } from "./fixture.ts";

Deno.test("every SDL field has a resolver and every resolver an SDL field", async () => {
  const sdl = await Deno.readTextFile(SCHEMA_URL);
  const schema = buildGraphqlSchema(sdl);
  assert.deepEqual(resolverDrift(schema, resolvers), []);
  // A field added to the SDL without a resolver is caught.
  const drifted = sdl.replace("type WarningCount {", "type WarningCount {\n  lastAt: DateTime");
  assert.throws(() => buildGraphqlSchema(drifted), /WarningCount\.lastAt has no resolver/);
  // So is a resolver whose field left the SDL.
  const dropped = sdl.replace(/\n[^\n]*\n {2}manufacturedOn: String/, "");
  assert.throws(() => buildGraphqlSchema(dropped), /RadioDevice\.manufacturedOn/);
  // The error codes the server uses are the SDL's.
  const errorCode = parse(sdl).definitions.find((definition) =>
    definition.kind === "EnumTypeDefinition" && definition.name.value === "ErrorCode"
  );
  assert.ok(errorCode?.kind === "EnumTypeDefinition");
  assert.deepEqual(errorCode.values?.map((value) => value.name.value), [...ERROR_CODES]);
});

Deno.test("the owner reads the gateway, meters, latest readings, series and usage", async () => {
  const fixture = await startGatewayFixture({ simulated: 1 });
  try {
    const [meterId] = await waitForMeters(fixture, 1);
    assert.doesNotMatch(meterId, /^0x/, "meter ids are opaque, not MACs");
    const gatewayQuery = `{
      gateway { version uptimeS startedAt
        radios { port linkState lastFragmentAgeS reconnects warnings { kind count }
          device { mac manufacturer model firmwareVersion } decoder { fragments } } }
    }`;
    let gateway = await fixture.graphql(gatewayQuery);
    // The radio answers get_device_info after its first pushes; give the store a moment.
    for (let i = 0; i < 50 && !gateway.data?.gateway.radios[0].device?.manufacturer; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      gateway = await fixture.graphql(gatewayQuery);
    }
    assert.deepEqual(gateway.errors, []);
    const [radio] = gateway.data.gateway.radios;
    assert.equal(gateway.data.gateway.version, "0.0.0-test");
    assert.equal(radio.port, "sim:0");
    assert.equal(radio.linkState, "CONNECTED");
    assert.ok(radio.lastFragmentAgeS >= 0 && radio.lastFragmentAgeS < 10);
    assert.equal(radio.device.manufacturer, "Rainforest Automation, Inc.");
    assert.match(radio.device.firmwareVersion, /^2\.0\.0/);
    assert.ok(radio.decoder.fragments > 0);

    const readMeter = () => {
      const now = Date.now();
      return fixture.graphql(
        `query ($id: ID!, $from: DateTime!, $to: DateTime!) {
          meter(id: $id) {
            id name lastSeenAt
            join { status connected signalStrengthPercent }
            demand { demandW signedDemandW direction at }
            summation { deliveredWh receivedWh at }
            price { tier ratePerKWh currency label }
            messages { id text }
            demandSeries(from: $from, to: $to, bucket: FIFTEEN_MINUTES) {
              start durationS avgW minW maxW samples }
            intervals(from: $from, to: $to) {
              start durationS deliveredWh receivedWh cost currency quality }
            today: usage(period: TODAY) { deliveredWh cost currency unpricedWh peakDemandW peakAt }
            day: usage(period: LAST_24_HOURS) { from to deliveredWh receivedWh netWh }
          }
        }`,
        {
          variables: {
            id: meterId,
            from: new Date(now - 48 * 3_600_000).toISOString(),
            to: new Date(now + 3_600_000).toISOString(),
          },
        },
      );
    };
    // The meter backfills two hours at high speed; wait until it has (bounded), then check.
    let meter = await readMeter();
    for (
      let tries = 0;
      tries < 100 && (meter.data?.meter?.demandSeries.length ?? 0) < 8;
      tries++
    ) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      meter = await readMeter();
    }
    assert.deepEqual(meter.errors, []);
    const m = meter.data.meter;
    assert.equal(m.id, meterId);
    assert.equal(m.name, null);
    assert.equal(m.join.status, "Connected");
    assert.equal(m.join.connected, true);
    assert.equal(typeof m.demand.demandW, "number");
    assert.ok(["IMPORT", "EXPORT"].includes(m.demand.direction));
    assert.equal(Math.abs(m.demand.signedDemandW), m.demand.demandW);
    assert.ok(m.summation.deliveredWh > 0);
    assert.equal(m.price.currency, "USD");
    // Two hours of backfill in 15-minute buckets: about 8 buckets, each consistent.
    assert.ok(m.demandSeries.length >= 6, `buckets: ${m.demandSeries.length}`);
    for (const bucket of m.demandSeries) {
      assert.equal(bucket.durationS, 900);
      assert.ok(bucket.minW <= bucket.avgW && bucket.avgW <= bucket.maxW);
      assert.equal(new Date(bucket.start).getTime() % 900_000, 0);
    }
    assert.ok(m.intervals.length >= 12, `intervals: ${m.intervals.length}`);
    const priced = m.intervals.filter((interval: { cost: number | null }) =>
      interval.cost !== null
    );
    assert.ok(priced.length > 0);
    assert.ok(
      m.intervals.every((i: { quality: string }) =>
        i.quality === "VALID" || i.quality === "ESTIMATED"
      ),
    );
    // A solar household: at midday it may only export.
    assert.ok(m.day.deliveredWh + m.day.receivedWh > 0);
    assert.equal(m.day.netWh, m.day.deliveredWh - m.day.receivedWh);
    assert.equal(typeof m.today.peakDemandW, "number");
    assert.ok(m.today.unpricedWh <= m.today.deliveredWh);
  } finally {
    await fixture.close();
  }
});
