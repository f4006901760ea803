/**
 * Two households on one gateway with three simulated meters (Home owns two, Flat B one), every
 * interface checked from each side for the other's data over real HTTP on 127.0.0.1: GraphQL
 * queries, mutations and live subscriptions (real SSE), ESPI Download My Data and app subscriptions, the spreadsheet download,
 * the consent page and the authorizations page. Nothing crosses, and "not yours" answers exactly
 * what "does not exist" answers. The administrator sees every meter's link health and nothing
 * else.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createClient } from "graphql-sse";
import { registerApp } from "../../src/auth/apps.ts";
import { createAuthorization } from "../../src/auth/authorizations.ts";
import { setOwnerPassword } from "../../src/auth/owner.ts";
import { createSession, SESSION_COOKIE } from "../../src/auth/sessions.ts";
import { ACCESS_TOKEN_EXPIRES_IN_S, mintToken } from "../../src/auth/tokens.ts";
import { ESPI_RESOURCE_BASE } from "../../src/auth/oauth_token.ts";
import { addHousehold, assignMeter } from "../../src/store/households.ts";
import { meterKeyForUsagePoint } from "../../src/store/usage_points.ts";
import { waitFor } from "../e2e/helpers.ts";
import { type GatewayFixture, startGatewayFixture, waitForMeters } from "../graphql/fixture.ts";

const SCOPE = "FB=1_3_4_5_13_14_39;IntervalDuration=300;BlockDuration=daily;HistoryLength=172800";
/** A usage point id shaped like a real one that no meter has. */
const UNKNOWN_ID = "AAAAAAAAAAAAAAAA";

interface Building {
  fixture: GatewayFixture;
  /** Home (household 1) owns these two. */
  homeMeters: string[];
  /** Flat B (household 2) owns this one. */
  flatMeter: string;
  cookies: { home: string; flat: string; administrator: string };
}

async function building(): Promise<Building> {
  const fixture = await startGatewayFixture({ simulated: 3, espi: true });
  const ids = await waitForMeters(fixture, 3);
  const nowMs = Date.now();
  const flat = addHousehold(fixture.db, { name: "Flat B", nowMs });
  const flatMeter = ids[2];
  assert.ok(
    assignMeter(fixture.db, meterKeyForUsagePoint(fixture.db, flatMeter)!, flat.householdId),
  );
  const cookie = (householdId: number | null) =>
    `${SESSION_COOKIE}=${
      createSession(fixture.db, { nowMs, secure: false, householdId }).sessionId
    }`;
  return {
    fixture,
    homeMeters: ids.slice(0, 2),
    flatMeter,
    // The fixture's own cookie is an administrator session.
    cookies: {
      home: cookie(1),
      flat: cookie(flat.householdId),
      administrator: fixture.ownerCookie,
    },
  };
}

function graphql(fixture: GatewayFixture, cookie: string, query: string, variables = {}) {
  return fixture.graphql(query, { as: null, headers: { Cookie: cookie }, variables });
}

/** Grants an app `meterIds` on behalf of `householdId`; returns its bearer token. */
function grant(fixture: GatewayFixture, householdId: number, meterIds: string[]) {
  const nowMs = Date.now();
  const { app } = registerApp(fixture.db, {
    name: `App of household ${householdId}`,
    redirectUris: ["https://app.example/callback"],
    scopes: [SCOPE],
    nowMs,
  });
  const authorization = createAuthorization(fixture.db, {
    clientId: app.clientId,
    scope: SCOPE,
    usagePointIds: meterIds,
    householdId,
    nowMs,
  });
  const { token } = mintToken(fixture.db, {
    kind: "access",
    clientId: app.clientId,
    authorizationId: authorization.authorizationId,
    expiresInS: ACCESS_TOKEN_EXPIRES_IN_S,
    nowMs,
  });
  return { token, app, authorization };
}

async function get(url: string, headers: Record<string, string>) {
  const response = await fetch(url, { headers });
  return { status: response.status, body: await response.text() };
}

/** The answer for `mine`-less `other`, with the id swapped for an unknown one, must be identical. */
async function sameAsUnknown(
  fetchFor: (id: string) => Promise<{ status: number; body: string }>,
  otherId: string,
) {
  const other = await fetchFor(otherId);
  const unknown = await fetchFor(UNKNOWN_ID);
  assert.equal(other.status, unknown.status);
  assert.equal(other.body.replaceAll(otherId, "ID"), unknown.body.replaceAll(UNKNOWN_ID, "ID"));
  return other;
}

Deno.test("households: nothing crosses between two households on one gateway", async (t) => {
  const { fixture, homeMeters, flatMeter, cookies } = await building();
  try {
    const espi = `${fixture.url}${ESPI_RESOURCE_BASE}`;

    await t.step("GraphQL meters: each household sees only its own", async () => {
      const home = await graphql(fixture, cookies.home, "{ meters { id demand { demandW } } }");
      assert.deepEqual(home.data.meters.map((m: { id: string }) => m.id).sort(), homeMeters.sort());
      assert.ok(home.data.meters.every((m: { demand: unknown }) => m.demand !== null));
      const flat = await graphql(fixture, cookies.flat, "{ meters { id } }");
      assert.deepEqual(flat.data.meters.map((m: { id: string }) => m.id), [flatMeter]);
    });

    await t.step("GraphQL: another household's meter is NOT_FOUND like an unknown id", async () => {
      const query = `query ($id: ID!) { meter(id: $id) { id intervals(from: "${
        new Date(Date.now() - 3_600_000).toISOString()
      }", to: "${new Date().toISOString()}") { deliveredWh } } }`;
      for (const id of homeMeters) {
        const other = await graphql(fixture, cookies.flat, query, { id });
        const unknown = await graphql(fixture, cookies.flat, query, { id: UNKNOWN_ID });
        assert.equal(other.status, unknown.status);
        assert.equal(other.data, null);
        assert.equal(other.errors[0].extensions?.code, "NOT_FOUND");
        assert.equal(
          other.errors[0].message.replace(id, "ID"),
          unknown.errors[0].message.replace(UNKNOWN_ID, "ID"),
        );
      }
    });

    await t.step("GraphQL: the administrator sees link health, no readings", async () => {
      const meters = await graphql(fixture, cookies.administrator, "{ meters { id lastSeenAt } }");
      assert.equal(meters.data.meters.length, 3, "every meter, for link health");
      const readings = await graphql(
        fixture,
        cookies.administrator,
        "{ meters { demand { demandW } } }",
      );
      assert.equal(readings.data ?? null, null);
      assert.equal(readings.errors[0].extensions?.code, "FORBIDDEN");
      const authorizations = await graphql(
        fixture,
        cookies.administrator,
        "{ authorizations { id } }",
      );
      assert.deepEqual(authorizations.data.authorizations, []);
    });

    await t.step("GraphQL authorizations: listed, revoked and granted per household", async () => {
      const home = grant(fixture, 1, homeMeters);
      const list = await graphql(fixture, cookies.flat, "{ authorizations { id } }");
      assert.deepEqual(list.data.authorizations, [], "Flat B does not see Home's authorization");
      const revoke = `mutation ($id: ID!) { revokeAuthorization(id: $id) { id status } }`;
      const other = await graphql(fixture, cookies.flat, revoke, {
        id: home.authorization.authorizationId,
      });
      const unknown = await graphql(fixture, cookies.flat, revoke, { id: UNKNOWN_ID });
      assert.equal(other.errors[0].extensions?.code, "NOT_FOUND");
      assert.equal(
        other.errors[0].message.replace(home.authorization.authorizationId, "ID"),
        unknown.errors[0].message.replace(UNKNOWN_ID, "ID"),
      );
      const mine = await graphql(fixture, cookies.home, "{ authorizations { id status } }");
      assert.deepEqual(mine.data.authorizations.map((a: { id: string }) => a.id), [
        home.authorization.authorizationId,
      ]);
      assert.equal(mine.data.authorizations[0].status, "ACTIVE", "still active after B's try");

      const approve = `mutation ($app: ID!, $ids: [ID!]!) {
        approveApp(input: { appId: $app, meterIds: $ids }) { id meterIds } }`;
      const stolen = await graphql(fixture, cookies.flat, approve, {
        app: home.app.clientId,
        ids: [homeMeters[0]],
      });
      assert.equal(
        stolen.errors[0].extensions?.code,
        "NOT_FOUND",
        "Flat B cannot grant Home's meter",
      );
      const own = await graphql(fixture, cookies.flat, approve, {
        app: home.app.clientId,
        ids: [flatMeter],
      });
      assert.deepEqual(own.data.approveApp.meterIds, [flatMeter]);
      const homeList = await graphql(fixture, cookies.home, "{ authorizations { id } }");
      assert.equal(homeList.data.authorizations.length, 1, "B's grant is not listed for Home");
    });

    await t.step(
      "GraphQL subscriptions: each household's stream carries its meters only",
      async () => {
        // The same document from both households and the administrator: shared executions must
        // never be shared across them.
        const query = "subscription { demand { meterId demand { demandW } } }";
        const streams = Object.fromEntries(
          (["home", "flat", "administrator"] as const).map((who) => {
            const client = createClient({
              url: `${fixture.url}/graphql`,
              headers: { Cookie: cookies[who] },
              retryAttempts: 0,
            });
            const meterIds = new Set<string>();
            const errors: string[] = [];
            (async () => {
              try {
                for await (const result of client.iterate({ query })) {
                  const update = result as {
                    data?: { demand: { meterId: string } };
                    errors?: { message: string }[];
                  };
                  if (update.data) meterIds.add(update.data.demand.meterId);
                  for (const error of update.errors ?? []) errors.push(error.message);
                }
              } catch (error) {
                errors.push(String(error));
              }
            })();
            return [who, { client, meterIds, errors }];
          }),
        );
        await waitFor(
          "demand events for every meter",
          () => streams.home.meterIds.size === 2 && streams.flat.meterIds.size === 1,
        );
        assert.deepEqual([...streams.home.meterIds].sort(), [...homeMeters].sort());
        assert.deepEqual([...streams.flat.meterIds], [flatMeter]);
        assert.equal(streams.administrator.meterIds.size, 0, "the administrator gets no readings");
        assert.ok(streams.administrator.errors.length > 0);
        // A meter moving to the neighbour moves between the open streams too, without a
        // reconnect (the streams follow the read policy within a second).
        const moved = meterKeyForUsagePoint(fixture.db, homeMeters[1])!;
        assignMeter(fixture.db, moved, 2);
        try {
          await new Promise((resolve) => setTimeout(resolve, 1500));
          streams.home.meterIds.clear();
          streams.flat.meterIds.clear();
          await waitFor(
            "the moved meter's events on Flat B's stream",
            () => streams.flat.meterIds.has(homeMeters[1]) && streams.home.meterIds.size > 0,
          );
          await new Promise((resolve) => setTimeout(resolve, 500));
          assert.deepEqual([...streams.home.meterIds], [homeMeters[0]]);
          assert.deepEqual(streams.home.errors, [], "Home's stream goes on");
        } finally {
          assignMeter(fixture.db, moved, 1);
        }
        for (const stream of Object.values(streams)) stream.client.dispose();
      },
    );

    await t.step("ESPI Download My Data: each RetailCustomer is its household's only", async () => {
      const home = await get(`${espi}/Batch/RetailCustomer/1/UsagePoint`, { Cookie: cookies.home });
      assert.equal(home.status, 200);
      for (const id of homeMeters) assert.ok(home.body.includes(`UsagePoint/${id}`));
      assert.ok(!home.body.includes(flatMeter));
      const flat = await get(`${espi}/Batch/RetailCustomer/2/UsagePoint`, { Cookie: cookies.flat });
      assert.equal(flat.status, 200);
      assert.ok(flat.body.includes(`RetailCustomer/2/UsagePoint/${flatMeter}`));
      for (const id of homeMeters) assert.ok(!flat.body.includes(id));
      // Another household's RetailCustomer, and the administrator's, look like an unknown one.
      const unknown = await get(`${espi}/Batch/RetailCustomer/999/UsagePoint`, {
        Cookie: cookies.flat,
      });
      assert.equal(unknown.status, 404);
      for (
        const [cookie, id] of [[cookies.flat, "1"], [cookies.home, "2"], [
          cookies.administrator,
          "1",
        ]]
      ) {
        const other = await get(`${espi}/Batch/RetailCustomer/${id}/UsagePoint`, {
          Cookie: cookie,
        });
        assert.equal(other.status, 404);
        assert.equal(other.body, unknown.body);
      }
      await sameAsUnknown(
        (id) =>
          get(`${espi}/RetailCustomer/2/UsagePoint/${id}/MeterReading`, { Cookie: cookies.flat }),
        homeMeters[0],
      );
    });

    await t.step("ESPI subscription: an app granted by Home reads Home's meters only", async () => {
      const { token, authorization } = grant(fixture, 1, homeMeters);
      const bearer = { Authorization: `Bearer ${token}` };
      const batch = await get(`${espi}/Batch/Subscription/${authorization.subscriptionId}`, bearer);
      assert.equal(batch.status, 200);
      assert.ok(!batch.body.includes(flatMeter));
      const other = await sameAsUnknown(
        (id) =>
          get(
            `${espi}/Subscription/${authorization.subscriptionId}/UsagePoint/${id}/MeterReading`,
            bearer,
          ),
        flatMeter,
      );
      assert.equal(other.status, 404);
      // A grant naming a meter its household does not own (forged here in the store) reads
      // nothing of it: the read policy, not the stored list, decides.
      const forged = grant(fixture, 2, [homeMeters[0], flatMeter]);
      const forgedBatch = await get(
        `${espi}/Batch/Subscription/${forged.authorization.subscriptionId}`,
        { Authorization: `Bearer ${forged.token}` },
      );
      assert.equal(forgedBatch.status, 200);
      assert.ok(forgedBatch.body.includes(flatMeter));
      assert.ok(!forgedBatch.body.includes(homeMeters[0]));
      const gql = await fixture.graphql("{ meters { id } }", { as: forged.token });
      assert.deepEqual(gql.data.meters.map((m: { id: string }) => m.id), [flatMeter]);
    });

    await t.step("spreadsheet download: own meters only", async () => {
      const csv = await get(`${fixture.url}/download/intervals.csv`, { Cookie: cookies.flat });
      assert.equal(csv.status, 200);
      for (const id of homeMeters) assert.ok(!csv.body.includes(id));
      await sameAsUnknown(
        (id) => get(`${fixture.url}/download/intervals.csv?meter=${id}`, { Cookie: cookies.flat }),
        homeMeters[0],
      );
    });

    await t.step("consent and authorizations pages: own meters, own grants", async () => {
      const { app } = registerApp(fixture.db, {
        name: "Consent Check",
        redirectUris: ["https://consent.example/cb"],
        scopes: [SCOPE],
        nowMs: Date.now(),
      });
      const consentUrl = `${fixture.url}/oauth/authorize?response_type=code&client_id=${
        encodeURIComponent(app.clientId)
      }&scope=${encodeURIComponent(SCOPE)}`;
      const flatPage = await get(consentUrl, { Cookie: cookies.flat });
      assert.equal(flatPage.status, 200);
      assert.ok(flatPage.body.includes(flatMeter));
      for (const id of homeMeters) assert.ok(!flatPage.body.includes(id));
      const adminPage = await get(consentUrl, { Cookie: cookies.administrator });
      assert.equal(adminPage.status, 403, "the administrator grants no household's data");

      // A forged form naming Home's meter grants only Flat B's own.
      const form = new URLSearchParams({
        response_type: "code",
        client_id: app.clientId,
        scope: SCOPE,
        decision: "approve",
      });
      form.append("usage_point", homeMeters[0]);
      form.append("usage_point", flatMeter);
      const decided = await fetch(`${fixture.url}/oauth/authorize`, {
        method: "POST",
        headers: { Cookie: cookies.flat, Origin: fixture.url },
        body: form,
        redirect: "manual",
      });
      await decided.body?.cancel();
      assert.equal(decided.status, 303);
      assert.ok(decided.headers.get("location")?.includes("code="));
      const row = fixture.db.prepare(
        "SELECT usage_point_ids_json AS ids, household_id AS h FROM oauth_authorizations WHERE client_id = ?",
      ).get(app.clientId) as { ids: string; h: number };
      assert.deepEqual(JSON.parse(row.ids), [flatMeter]);
      assert.equal(row.h, 2);

      const home = grant(fixture, 1, homeMeters);
      const flatList = await get(`${fixture.url}/owner/authorizations`, { Cookie: cookies.flat });
      assert.ok(!flatList.body.includes(home.authorization.authorizationId));
      const revoke = (id: string) =>
        fetch(`${fixture.url}/owner/authorizations/${id}/revoke`, {
          method: "POST",
          headers: { Cookie: cookies.flat, Origin: fixture.url },
          redirect: "manual",
        }).then(async (r) => ({ status: r.status, body: await r.text() }));
      await sameAsUnknown(revoke, home.authorization.authorizationId);
      const still = await graphql(fixture, cookies.home, "{ authorizations { id status } }");
      assert.ok(
        still.data.authorizations.some((a: { id: string; status: string }) =>
          a.id === home.authorization.authorizationId && a.status === "ACTIVE"
        ),
        "Flat B's revoke left Home's authorization alone",
      );
    });

    await t.step("sign-in: a household signs in by name with its own password", async () => {
      await setOwnerPassword(fixture.db, "administrator-password", Date.now());
      await setOwnerPassword(fixture.db, "flat-b-password", Date.now(), {
        kind: "household",
        householdId: 2,
      });
      const page = await get(`${fixture.url}/owner/login`, {});
      assert.ok(page.body.includes('name="account"'), "a building's login asks whose account");
      const login = (account: string, password: string) =>
        fetch(`${fixture.url}/owner/login`, {
          method: "POST",
          headers: { Origin: fixture.url },
          body: new URLSearchParams({ account, password, next: "/" }),
          redirect: "manual",
        }).then(async (r) => ({
          status: r.status,
          body: await r.text(),
          cookie: r.headers.get("set-cookie")?.split(";")[0] ?? null,
        }));
      const wrong = await login("Flat B", "not-the-password");
      const nobody = await login("Flat Z", "flat-b-password");
      assert.equal(wrong.status, 401);
      assert.equal(nobody.status, 401);
      assert.equal(wrong.body, nobody.body, "an unknown household looks like a wrong password");
      const ok = await login("flat b", "flat-b-password");
      assert.equal(ok.status, 303);
      const mine = await graphql(fixture, ok.cookie!, "{ meters { id } }");
      assert.deepEqual(mine.data.meters.map((m: { id: string }) => m.id), [flatMeter]);
    });
  } finally {
    await fixture.close();
  }
});
