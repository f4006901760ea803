/**
 * The one interval rule (`servedIntervalS` in `src/auth/read_policy.ts`): an app granted
 * `IntervalDuration=2100` is served 2400 s intervals, and one granted 3000 is served 3600 s, by
 * the ESPI feed and by GraphQL `intervals` alike, with the same energy in each interval. Both
 * through the real HTTP server on 127.0.0.1 with real access tokens over one SQLite file.
 *
 * @module
 */

import assert from "node:assert/strict";
import { registerApp } from "../../src/auth/apps.ts";
import { createAuthorization } from "../../src/auth/authorizations.ts";
import { mintToken } from "../../src/auth/tokens.ts";
import { createHttpApp } from "../../src/app/http_app.ts";
import { LiveBus } from "../../src/live/bus.ts";
import { END_MS, espiFixture, HOUR_MS } from "./fixtures.ts";

const HISTORY_S = 86_400;

/** Interval start (Unix s) → delivered Wh of every IntervalReading of MeterReading 1. */
function espiIntervals(xml: string): { durations: Set<number>; whByStartS: Map<number, number> } {
  const durations = new Set<number>();
  const whByStartS = new Map<number, number>();
  const readings = xml.matchAll(
    /<espi:timePeriod><espi:duration>(\d+)<\/espi:duration><espi:start>(\d+)<\/espi:start><\/espi:timePeriod><espi:value>(-?\d+)</g,
  );
  for (const [, duration, start, value] of readings) {
    durations.add(Number(duration));
    whByStartS.set(Number(start), Number(value));
  }
  return { durations, whByStartS };
}

Deno.test("IntervalDuration 2100 → 2400 s and 3000 → 3600 s, from both the ESPI feed and GraphQL", async () => {
  const fixture = await espiFixture();
  const server = createHttpApp({
    hostname: "127.0.0.1",
    port: 0,
    services: { ...fixture.services(), publicBaseUrl: "" },
    espi: true,
    graphql: { bus: new LiveBus(), supervisors: [], version: "0.0.0-test", startedMs: END_MS },
  });
  try {
    const usagePointId = fixture.plainUsagePointId;
    for (const [grantedS, servedS] of [[2100, 2400], [3000, 3600]]) {
      const scope =
        `FB=1_3_4_5_12_13_14_39;IntervalDuration=${grantedS};BlockDuration=daily;HistoryLength=${HISTORY_S}`;
      const { app } = registerApp(fixture.db, {
        name: `Coarse ${grantedS}`,
        redirectUris: ["https://coarse.example/callback"],
        scopes: [scope],
        nowMs: END_MS - HOUR_MS,
      });
      const authorization = createAuthorization(fixture.db, {
        clientId: app.clientId,
        scope: app.scopes[0],
        usagePointIds: [usagePointId],
        householdId: 1,
        nowMs: END_MS - HOUR_MS,
      });
      const { token } = mintToken(fixture.db, {
        kind: "access",
        clientId: app.clientId,
        authorizationId: authorization.authorizationId,
        expiresInS: 3600,
        nowMs: END_MS - 60_000,
      });
      const headers = { Authorization: `Bearer ${token}` };

      const espi = await fetch(
        `${server.url}/espi/1_1/resource/Subscription/${authorization.subscriptionId}` +
          `/UsagePoint/${usagePointId}/MeterReading/1/IntervalBlock`,
        { headers },
      );
      const xml = await espi.text();
      assert.equal(espi.status, 200, xml);
      const fromEspi = espiIntervals(xml);
      assert.deepEqual([...fromEspi.durations], [servedS], `ESPI for ${grantedS}`);
      const readingType = await fetch(`${server.url}/espi/1_1/resource/ReadingType`, { headers });
      assert.match(await readingType.text(), new RegExp(`<espi:intervalLength>${servedS}<`));

      const graphql = await fetch(`${server.url}/graphql`, {
        method: "POST",
        headers: { ...headers, "Content-Type": "application/json" },
        body: JSON.stringify({
          query: `query ($id: ID!, $from: DateTime!, $to: DateTime!) {
            meter(id: $id) { intervals(from: $from, to: $to) { start durationS deliveredWh } }
          }`,
          variables: {
            id: usagePointId,
            from: new Date(END_MS - HISTORY_S * 1000).toISOString(),
            to: new Date(END_MS).toISOString(),
          },
        }),
      });
      const reply = await graphql.json();
      assert.equal(graphql.status, 200, JSON.stringify(reply));
      assert.equal(reply.errors, undefined, JSON.stringify(reply.errors));
      const intervals: { start: string; durationS: number; deliveredWh: number }[] =
        reply.data.meter.intervals;
      assert.ok(intervals.length > 0);
      assert.deepEqual(
        [...new Set(intervals.map((interval) => interval.durationS))],
        [servedS],
        `GraphQL for ${grantedS}`,
      );
      // The same intervals with the same energy: one rule, one sum.
      assert.deepEqual(
        intervals.map((interval) => Date.parse(interval.start) / 1000),
        [...fromEspi.whByStartS.keys()],
      );
      for (const interval of intervals) {
        const startS = Date.parse(interval.start) / 1000;
        assert.equal(
          fromEspi.whByStartS.get(startS),
          Math.round(interval.deliveredWh),
          interval.start,
        );
      }
    }
  } finally {
    await server.shutdown();
    await fixture.cleanup();
  }
});
