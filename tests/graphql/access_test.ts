/**
 * The access matrix through real HTTP: the owner, an app with a narrow grant (one meter, one hour
 * of history, hourly resolution), no credentials, a revoked token; CSRF checks for the owner's
 * cookie; introspection and GraphiQL only for the owner.
 *
 * @module
 */

import assert from "node:assert/strict";
import { revokeAuthorization } from "../../src/auth/authorizations.ts";
import { startGatewayFixture, waitForMeters } from "./fixture.ts";

/** Interval energy and demand (FB 6: the demand series below), one hour back, hourly. */
const NARROW_SCOPE =
  "FB=1_3_4_5_6_13_14_39;IntervalDuration=3600;BlockDuration=daily;HistoryLength=3600";

Deno.test("access matrix: owner, narrow app, no token, revoked token", async () => {
  const fixture = await startGatewayFixture({ simulated: 2 });
  try {
    const [granted, other] = await waitForMeters(fixture, 2);
    const app = fixture.appToken({ scope: NARROW_SCOPE, meterIds: [granted] });
    const meters = "{ meters { id } }";

    // The owner sees every meter; the app only its granted one.
    const owner = await fixture.graphql(meters);
    assert.deepEqual(
      owner.data.meters.map((m: { id: string }) => m.id).sort(),
      [granted, other].sort(),
    );
    const asApp = await fixture.graphql(meters, { as: app.token });
    assert.deepEqual(asApp.data.meters, [{ id: granted }]);
    const viewer = await fixture.graphql(
      "{ viewer { kind appName historyLimitS finestResolutionS scopeDescription } }",
      { as: app.token },
    );
    assert.deepEqual(
      { ...viewer.data.viewer, scopeDescription: undefined },
      {
        kind: "APP",
        appName: "Energy Coach",
        historyLimitS: 3600,
        finestResolutionS: 3600,
        scopeDescription: undefined,
      },
    );
    assert.match(viewer.data.viewer.scopeDescription.join(" "), /1 hour/);

    // Another meter reads as not found, exactly like an unknown one.
    const hidden = await fixture.graphql(`{ meter(id: "${other}") { id } }`, { as: app.token });
    const unknown = await fixture.graphql(`{ meter(id: "nope") { id } }`, { as: app.token });
    assert.equal(hidden.errors[0].extensions?.code, "NOT_FOUND");
    assert.equal(
      hidden.errors[0].message.replace(other, "X"),
      unknown.errors[0].message.replace("nope", "X"),
    );

    // Resolution and history: 15-minute buckets are refused, hourly ones are cut to one hour.
    const range = {
      from: new Date(Date.now() - 6 * 3_600_000).toISOString(),
      to: new Date(Date.now() + 3_600_000).toISOString(),
    };
    const series = (bucket: string) =>
      `query ($from: DateTime!, $to: DateTime!) { meter(id: "${granted}") {
        demandSeries(from: $from, to: $to, bucket: ${bucket}) { start } } }`;
    const fine = await fixture.graphql(series("FIFTEEN_MINUTES"), {
      as: app.token,
      variables: range,
    });
    assert.equal(fine.errors[0].extensions?.code, "FORBIDDEN");
    assert.match(fine.errors[0].message, /no finer than every 60 min/);
    const hourly = await fixture.graphql(series("ONE_HOUR"), { as: app.token, variables: range });
    assert.deepEqual(hourly.errors, []);
    const oldestMs = Math.min(
      ...hourly.data.meter.demandSeries.map((b: { start: string }) => Date.parse(b.start)),
    );
    assert.ok(oldestMs >= Date.now() - 2 * 3_600_000, "no bucket from before the granted hour");

    // Owner-only fields and every mutation refuse the app.
    for (
      const query of [
        "{ gateway { radios { port } } }",
        "{ authorizations { id } }",
        "{ apps { id } }",
        `mutation { renameMeter(id: "${granted}", name: "x") { id } }`,
      ]
    ) {
      const reply = await fixture.graphql(query, { as: app.token });
      assert.equal(reply.errors[0]?.extensions?.code, "FORBIDDEN", query);
    }
    assert.equal(
      (await fixture.graphql("{ gateway { version } }", { as: app.token })).data.gateway.version,
      "0.0.0-test",
    );

    // No credentials and a revoked token: 401 with a Bearer challenge.
    const anonymous = await fetch(`${fixture.url}/graphql`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ query: meters }),
    });
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get("www-authenticate") ?? "", /^Bearer/);
    assert.equal((await anonymous.json()).errors[0].extensions.code, "UNAUTHENTICATED");
    revokeAuthorization(fixture.db, app.authorizationId, Date.now());
    const revoked = await fixture.graphql(meters, { as: app.token });
    assert.equal(revoked.status, 401);
    assert.equal(revoked.errors[0].extensions?.code, "UNAUTHENTICATED");
    assert.match(revoked.errors[0].message, /revoked/);
  } finally {
    await fixture.close();
  }
});

Deno.test("the owner's cookie needs JSON and the gateway's own origin", async () => {
  const fixture = await startGatewayFixture({ simulated: 0 });
  try {
    const form = await fetch(`${fixture.url}/graphql`, {
      method: "POST",
      headers: {
        Cookie: fixture.ownerCookie,
        "Content-Type": "application/x-www-form-urlencoded",
      },
      body: "query=%7B%20meters%20%7B%20id%20%7D%20%7D",
    });
    assert.equal(form.status, 415);
    await form.body?.cancel();
    const crossOrigin = await fixture.graphql("{ meters { id } }", {
      headers: { Origin: "https://evil.example" },
    });
    assert.equal(crossOrigin.status, 403);
    const sameOrigin = await fixture.graphql("{ meters { id } }", {
      headers: { Origin: fixture.url },
    });
    assert.equal(sameOrigin.status, 200);
  } finally {
    await fixture.close();
  }
});

Deno.test("introspection and GraphiQL are for the owner only", async () => {
  const fixture = await startGatewayFixture({ simulated: 0 });
  try {
    const app = fixture.appToken({ scope: NARROW_SCOPE, meterIds: [] });
    const introspection = "{ __schema { queryType { name } } }";
    const owner = await fixture.graphql(introspection);
    assert.equal(owner.data.__schema.queryType.name, "Query");
    const asApp = await fixture.graphql(introspection, { as: app.token });
    assert.equal(asApp.errors[0].extensions?.code, "FORBIDDEN");
    assert.equal(
      (await fixture.graphql("{ __typename }", { as: app.token })).data.__typename,
      "Query",
    );

    const page = (headers: Record<string, string>) =>
      fetch(`${fixture.url}/graphql`, { headers: { Accept: "text/html", ...headers } });
    const ownerPage = await page({ Cookie: fixture.ownerCookie });
    assert.equal(ownerPage.status, 200);
    assert.match(await ownerPage.text(), /graphiql/i);
    const appPage = await page({ Authorization: `Bearer ${app.token}` });
    assert.doesNotMatch(await appPage.text(), /graphiql/i);
  } finally {
    await fixture.close();
  }
});
