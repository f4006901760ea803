/**
 * Households on the ESPI side, through the real HTTP server on 127.0.0.1 with real sessions and
 * tokens over a real SQLite file: a gateway with three households (a flat with solar, a flat, a
 * shop), one meter each, and one app each of them authorized.
 *
 * - Each household's Download My Data (`Batch/RetailCustomer/{id}/UsagePoint`) holds exactly its
 *   own usage point, links nothing of another customer, has the link graph of a real Data
 *   Custodian's Batch feed, and no Atom id of its own data recurs in another's feed; each app
 *   subscription likewise; all of them, and the authorization feeds, validate against ESPI 4.0
 *   and the CMD test schema.
 * - Every RetailCustomer path answers only the household signed in: another household's id, an
 *   unknown one, one with junk, and the building's administrator all get the identical 404.
 * - A subscription shows only meters its household still owns, and notifications follow.
 *
 * @module
 */

import assert from "node:assert/strict";
import { registerApp } from "../../src/auth/apps.ts";
import { createAuthorization } from "../../src/auth/authorizations.ts";
import { createSession, SESSION_COOKIE } from "../../src/auth/sessions.ts";
import { mintToken } from "../../src/auth/tokens.ts";
import { createHttpApp } from "../../src/app/http_app.ts";
import { startEspiNotifier } from "../../src/espi/notify.ts";
import { LiveBus } from "../../src/live/bus.ts";
import { addHousehold, assignMeter, removeHousehold } from "../../src/store/households.ts";
import { referenceFolder } from "../reference.ts";
import { feedShape, parseFeed } from "./feed_shape.ts";
import {
  END_MS,
  type EspiFixture,
  espiFixture,
  HOUR_MS,
  PLAIN_METER,
  type SchemaName,
  SHOP_METER,
  SOLAR_METER,
  xmllint,
} from "./fixtures.ts";
import { batchUris, receiver } from "./notify_receiver.ts";

/** One household of the building, as the tests act for it. */
interface Side {
  householdId: number;
  meter: string;
  usagePointId: string;
  /** Its session cookie (`name=value`). */
  cookie: string;
  subscriptionId: string;
  authorizationId: string;
  /** The app's access token for this household's subscription. */
  accessToken: string;
}

interface Building {
  fixture: EspiFixture;
  /** `http://127.0.0.1:{port}/espi/1_1/resource`. */
  base: string;
  sides: Side[];
  adminCookie: string;
  clientId: string;
  clientToken: string;
  fetchEspi(
    path: string,
    credentials?: { cookie?: string; token?: string; etag?: string },
  ): Promise<{ status: number; body: string; headers: Headers }>;
}

const DAY_ID = String(Date.UTC(2024, 5, 2, 4) / 1000); // local midnight, New York (EDT)

/** Three households, one meter each, one app authorized by each, served on 127.0.0.1. */
async function withBuilding(test: (building: Building) => Promise<void>): Promise<void> {
  const fixture = await espiFixture({ thirdMeter: true });
  const { db } = fixture;
  const server = createHttpApp({
    hostname: "127.0.0.1",
    port: 0,
    services: { ...fixture.services(), publicBaseUrl: "" },
    espi: true,
  });
  try {
    addHousehold(db, { name: "Flat 2", nowMs: END_MS });
    addHousehold(db, { name: "Corner shop", nowMs: END_MS });
    const app = registerApp(db, {
      name: "Energy Coach",
      redirectUris: ["https://coach.example/callback"],
      nowMs: END_MS - HOUR_MS,
    });
    const clientId = app.app.clientId;
    const token = (kind: "access" | "client", authorizationId?: string) =>
      mintToken(db, { kind, clientId, authorizationId, expiresInS: 3600, nowMs: END_MS }).token;
    const meters = [SOLAR_METER, PLAIN_METER, SHOP_METER];
    const usagePointIds = [
      fixture.solarUsagePointId,
      fixture.plainUsagePointId,
      fixture.shopUsagePointId!,
    ];
    const sides = meters.map((meter, index): Side => {
      const householdId = index + 1;
      assert.ok(assignMeter(db, meter, householdId));
      const authorization = createAuthorization(db, {
        clientId,
        scope: app.app.scopes[0],
        usagePointIds: [usagePointIds[index]],
        householdId,
        nowMs: END_MS - HOUR_MS,
      });
      const session = createSession(db, { nowMs: END_MS, secure: false, householdId });
      return {
        householdId,
        meter,
        usagePointId: usagePointIds[index],
        cookie: `${SESSION_COOKIE}=${session.sessionId}`,
        subscriptionId: authorization.subscriptionId,
        authorizationId: authorization.authorizationId,
        accessToken: token("access", authorization.authorizationId),
      };
    });
    const admin = createSession(db, { nowMs: END_MS, secure: false, householdId: null });
    const base = `${server.url}/espi/1_1/resource`;
    await test({
      fixture,
      base,
      sides,
      adminCookie: `${SESSION_COOKIE}=${admin.sessionId}`,
      clientId,
      clientToken: token("client"),
      async fetchEspi(path, credentials = {}) {
        const headers: Record<string, string> = {};
        if (credentials.cookie !== undefined) headers.Cookie = credentials.cookie;
        if (credentials.token !== undefined) headers.Authorization = `Bearer ${credentials.token}`;
        if (credentials.etag !== undefined) headers["If-None-Match"] = credentials.etag;
        const response = await fetch(`${base}/${path}`, { headers });
        return { status: response.status, body: await response.text(), headers: response.headers };
      },
    });
  } finally {
    await server.shutdown();
    await fixture.cleanup();
  }
}

/** Writes each document to a file and validates them all with both schemas. */
async function assertSchemaValid(dir: string, documents: Map<string, string>): Promise<void> {
  const files: string[] = [];
  for (const body of documents.values()) {
    const file = `${dir}/household-doc-${files.length}.xml`;
    await Deno.writeTextFile(file, body);
    files.push(file);
  }
  for (const schema of ["espi-4.0", "cmdtest"] satisfies SchemaName[]) {
    const { code, output } = await xmllint(files, schema);
    assert.equal(code, 0, `${schema}: ${output}`);
    assert.equal(output.match(/ validates$/gm)?.length, files.length, output);
  }
}

const REAL_DC_FEED = new URL(
  "samples/cmdtest_BatchSubscription_5_response.xml",
  referenceFolder("espi/"),
);

Deno.test("three households: each feed holds only its own customer's data, shaped as a Data Custodian's, schema-valid", async () => {
  const real = await Deno.readTextFile(REAL_DC_FEED);
  const realShape = feedShape(
    real,
    "http://localhost:8080/DataCustodian/espi/1_1/resource",
    "Subscription/5",
  );
  assert.deepEqual(realShape.problems, []);
  await withBuilding(async ({ fixture, base, sides, clientToken, fetchEspi }) => {
    const documents = new Map<string, string>();
    const feedIds = new Set<string>();
    /** Atom ids of each feed's own (non-root) entries, and whose data they are. */
    const ownEntryIds: { name: string; householdId: number; ids: Set<string> }[] = [];
    const check = (name: string, body: string, prefix: string, side: Side) => {
      const shape = feedShape(body, base, prefix);
      assert.deepEqual(shape.problems, [], name);
      // The kinds a real Data Custodian feed has (its summaries are named the ESPI 1.x way).
      for (const kind of realShape.kinds) {
        if (kind.includes("Summary")) continue;
        assert.ok(shape.kinds.has(kind), `${name} has no ${kind}`);
      }
      assert.ok(shape.kinds.has("UsagePoint/UsageSummary"), name);
      const feed = parseFeed(body);
      const batchSelf = prefix.startsWith("RetailCustomer/") ? `${prefix}/UsagePoint` : prefix;
      assert.equal(feed.self, `${base}/Batch/${batchSelf}`, name);
      const usagePoints = feed.entries.filter((entry) => /\/UsagePoint\/[^/]+$/.test(entry.self));
      assert.deepEqual(
        usagePoints.map((entry) => entry.self),
        [`${base}/${prefix}/UsagePoint/${side.usagePointId}`],
        name,
      );
      for (const other of sides.filter((candidate) => candidate !== side)) {
        assert.ok(!body.includes(other.usagePointId), `${name} names ${other.usagePointId}`);
        assert.ok(!body.includes(other.subscriptionId), `${name} names another subscription`);
        assert.ok(!body.includes(`RetailCustomer/${other.householdId}/`), name);
      }
      // Usage point ids are opaque: neither the meter's address nor a counter.
      assert.ok(!body.toLowerCase().includes(side.meter.slice(2)), `${name} reveals the meter`);
      assert.match(side.usagePointId, /^[A-Za-z0-9_-]{16,}$/);
      assert.doesNotMatch(side.usagePointId, /^\d+$/);
      assert.ok(!feedIds.has(feed.id), `${name} reuses a feed id`);
      feedIds.add(feed.id);
      ownEntryIds.push({
        name,
        householdId: side.householdId,
        ids: new Set(feed.entries.filter((e) => e.self.includes("/UsagePoint/")).map((e) => e.id)),
      });
      documents.set(name, body);
    };

    for (const side of sides) {
      const batch = await fetchEspi(`Batch/RetailCustomer/${side.householdId}/UsagePoint`, {
        cookie: side.cookie,
      });
      assert.equal(batch.status, 200, batch.body);
      check(
        `household ${side.householdId}`,
        batch.body,
        `RetailCustomer/${side.householdId}`,
        side,
      );
      const subscription = await fetchEspi(`Batch/Subscription/${side.subscriptionId}`, {
        token: side.accessToken,
      });
      assert.equal(subscription.status, 200, subscription.body);
      check(
        `subscription of household ${side.householdId}`,
        subscription.body,
        `Subscription/${side.subscriptionId}`,
        side,
      );
      // The household's own view of what it authorized: its one authorization, nobody else's.
      const granted = await fetchEspi(`RetailCustomer/${side.householdId}/Authorization`, {
        cookie: side.cookie,
      });
      assert.equal(granted.status, 200, granted.body);
      assert.deepEqual(
        parseFeed(granted.body).entries.map((entry) => entry.self),
        [`${base}/RetailCustomer/${side.householdId}/Authorization/${side.authorizationId}`],
      );
      assert.match(
        granted.body,
        new RegExp(`<espi:resourceURI>${base}/Batch/Subscription/${side.subscriptionId}<`),
      );
      documents.set(`authorizations of household ${side.householdId}`, granted.body);
    }

    // A usage point has one Atom id wherever it is served (Download My Data and the app's
    // subscription); no id of one customer's data appears in another customer's feed.
    for (const feed of ownEntryIds) {
      for (const other of ownEntryIds.filter((candidate) => candidate !== feed)) {
        const shared = [...feed.ids].filter((id) => other.ids.has(id));
        if (feed.householdId === other.householdId) {
          assert.ok(shared.length > 0, `${feed.name} / ${other.name}`);
        } else assert.deepEqual(shared, [], `${feed.name} / ${other.name}`);
      }
    }

    // The app's Authorization collection: one per household, each naming its subscription and
    // no customer id (ESPI keeps the RetailCustomer out of it for privacy).
    const authorizations = await fetchEspi("Authorization", { token: clientToken });
    assert.equal(authorizations.status, 200, authorizations.body);
    assert.deepEqual(
      [...authorizations.body.matchAll(/<espi:resourceURI>([^<]*)</g)].map((m) => m[1]).sort(),
      sides.map((side) => `${base}/Batch/Subscription/${side.subscriptionId}`).sort(),
    );
    assert.doesNotMatch(authorizations.body, /RetailCustomer/);
    documents.set("app authorizations", authorizations.body);
    const one = await fetchEspi(`Authorization/${sides[1].authorizationId}`, {
      token: clientToken,
    });
    assert.equal(one.status, 200, one.body);
    documents.set("one app authorization", one.body);

    await assertSchemaValid(fixture.dir, documents);
  });
});

/** Every path below `RetailCustomer/{id}`, reaching for `side`'s data. */
function customerPaths(id: string, side: Side): string[] {
  const point = `RetailCustomer/${id}/UsagePoint/${side.usagePointId}`;
  return [
    `Batch/RetailCustomer/${id}/UsagePoint`,
    `RetailCustomer/${id}/UsagePoint`,
    point,
    `${point}/MeterReading`,
    `${point}/MeterReading/1`,
    `${point}/MeterReading/1/IntervalBlock`,
    `${point}/MeterReading/1/IntervalBlock/${DAY_ID}`,
    `${point}/UsageSummary`,
    `${point}/UsageSummary/1`,
    `RetailCustomer/${id}/Authorization`,
    `RetailCustomer/${id}/Authorization/${side.authorizationId}`,
  ];
}

Deno.test("RetailCustomer: another household's id, unknown and junk ids and the administrator get one identical 404", async () => {
  await withBuilding(async ({ sides, adminCookie, fetchEspi }) => {
    const [flat1, flat2, shop] = sides;
    // What a RetailCustomer that does not exist answers.
    const missing = await fetchEspi("Batch/RetailCustomer/99/UsagePoint", { cookie: flat2.cookie });
    assert.equal(missing.status, 404);
    assert.match(missing.headers.get("content-type") ?? "", /^application\/json/);

    // The household itself reads every one of these paths (so each of the refusals below can fail).
    for (const path of customerPaths("2", flat2)) {
      const own = await fetchEspi(path, { cookie: flat2.cookie });
      assert.equal(own.status, 200, `${path}: ${own.body}`);
    }

    const attempts: { who: string; cookie: string; id: string; target: Side }[] = [
      { who: "flat 2 on flat 1", cookie: flat2.cookie, id: "1", target: flat1 },
      { who: "flat 2 on the shop", cookie: flat2.cookie, id: "3", target: shop },
      { who: "the shop on flat 2", cookie: shop.cookie, id: "2", target: flat2 },
      ...sides.map((side) => ({
        who: `the administrator on household ${side.householdId}`,
        cookie: adminCookie,
        id: String(side.householdId),
        target: side,
      })),
      ...["4", "0", "99", "02", "2x", "%32", "2%20", "-2", "2.0", "+2", "1e0", "2".repeat(300)]
        .map((id) => ({ who: `flat 2 on id ${id}`, cookie: flat2.cookie, id, target: flat2 })),
    ];
    for (const attempt of attempts) {
      for (const path of customerPaths(attempt.id, attempt.target)) {
        const answer = await fetchEspi(path, { cookie: attempt.cookie });
        assert.equal(answer.status, 404, `${attempt.who}: ${path}`);
        assert.equal(answer.body, missing.body, `${attempt.who}: ${path}`);
        assert.equal(answer.headers.get("content-type"), missing.headers.get("content-type"));
      }
    }

    // Below its own id, a neighbour's usage point or authorization is not there either.
    const unknownPoint = await fetchEspi("RetailCustomer/2/UsagePoint/0123456789abcdef01234567", {
      cookie: flat2.cookie,
    });
    assert.equal(unknownPoint.status, 404);
    const unknownAuthorization = await fetchEspi("RetailCustomer/2/Authorization/nope", {
      cookie: flat2.cookie,
    });
    assert.equal(unknownAuthorization.status, 404);
    for (const neighbour of [flat1, shop]) {
      for (const path of customerPaths("2", neighbour).slice(2, 9)) {
        const answer = await fetchEspi(path, { cookie: flat2.cookie });
        assert.equal(answer.status, 404, path);
        assert.equal(answer.body, unknownPoint.body, path);
      }
      const authorization = await fetchEspi(
        `RetailCustomer/2/Authorization/${neighbour.authorizationId}`,
        { cookie: flat2.cookie },
      );
      assert.equal(authorization.status, 404);
      assert.equal(authorization.body, unknownAuthorization.body);
    }

    // The root-level summary path, which any reader may use, does not reach a neighbour's either.
    const unknownSummary = await fetchEspi("UsagePoint/0123456789abcdef01234567/UsageSummary", {
      cookie: flat2.cookie,
    });
    assert.equal(unknownSummary.status, 404);
    assert.equal(
      (await fetchEspi(`UsagePoint/${flat2.usagePointId}/UsageSummary`, { cookie: flat2.cookie }))
        .status,
      200,
    );
    for (const neighbour of [flat1, shop]) {
      const answer = await fetchEspi(`UsagePoint/${neighbour.usagePointId}/UsageSummary`, {
        cookie: flat2.cookie,
      });
      assert.equal(answer.status, 404);
      assert.equal(answer.body, unknownSummary.body);
    }

    // Not signed in is not "not found": the household is asked to sign in.
    const anonymous = await fetchEspi("Batch/RetailCustomer/2/UsagePoint");
    assert.equal(anonymous.status, 401);
    // An app's access token does not reach a RetailCustomer, not even its own household's.
    const app = await fetchEspi("Batch/RetailCustomer/2/UsagePoint", { token: flat2.accessToken });
    assert.equal(app.status, 403);
  });
});

Deno.test("RetailCustomer: a removed household's session ends; back to a single home, the one household reads every meter", async () => {
  await withBuilding(async ({ fixture, sides, adminCookie, fetchEspi }) => {
    const [flat1, flat2, shop] = sides;
    const adminBefore = await fetchEspi("Batch/RetailCustomer/1/UsagePoint", {
      cookie: adminCookie,
    });
    assert.equal(adminBefore.status, 404, "a building's administrator reads no household's data");
    removeHousehold(fixture.db, shop.householdId);
    const gone = await fetchEspi("Batch/RetailCustomer/3/UsagePoint", { cookie: shop.cookie });
    assert.equal(gone.status, 401, gone.body);
    // Two households left: the shop's meter is nobody's, so nobody's Download My Data has it.
    for (const side of [flat1, flat2]) {
      const batch = await fetchEspi(`Batch/RetailCustomer/${side.householdId}/UsagePoint`, {
        cookie: side.cookie,
      });
      assert.equal(batch.status, 200);
      assert.ok(!batch.body.includes(shop.usagePointId));
    }
    removeHousehold(fixture.db, flat2.householdId);
    // A single home again: its administrator is its household and reads all three meters.
    const home = await fetchEspi("Batch/RetailCustomer/1/UsagePoint", { cookie: adminCookie });
    assert.equal(home.status, 200, home.body);
    for (const side of sides) assert.ok(home.body.includes(side.usagePointId));
    const removed = await fetchEspi("Batch/RetailCustomer/2/UsagePoint", { cookie: adminCookie });
    const never = await fetchEspi("Batch/RetailCustomer/99/UsagePoint", { cookie: adminCookie });
    assert.equal(removed.status, 404);
    assert.equal(removed.body, never.body);
  });
});

Deno.test("a subscription shows only meters its household still owns: reassigned away and back", async () => {
  await withBuilding(async ({ fixture, sides, fetchEspi }) => {
    const [, flat2, shop] = sides;
    const token = { token: flat2.accessToken };
    const batchPath = `Batch/Subscription/${flat2.subscriptionId}`;
    const pointPath = `Subscription/${flat2.subscriptionId}/UsagePoint/${flat2.usagePointId}`;
    const unknownPath = `Subscription/${flat2.subscriptionId}/UsagePoint/0123456789abcdef01234567`;
    const granted = await fetchEspi(batchPath, token);
    assert.equal(granted.status, 200);
    assert.ok(granted.body.includes(flat2.usagePointId));
    const etag = granted.headers.get("etag") ?? "";
    assert.equal((await fetchEspi(batchPath, { ...token, etag })).status, 304);

    // The flat's meter goes to the shop (a tenant moved out, the shop took over the supply).
    assert.ok(assignMeter(fixture.db, flat2.meter, shop.householdId));
    const after = await fetchEspi(batchPath, { ...token, etag });
    assert.equal(after.status, 200, "the old ETag must not answer 304");
    assert.ok(!after.body.includes(flat2.usagePointId));
    const unknown = await fetchEspi(unknownPath, token);
    assert.equal(unknown.status, 404);
    for (
      const path of [
        pointPath,
        `${pointPath}/MeterReading/1/IntervalBlock`,
        `${pointPath}/MeterReading/1/IntervalBlock/${DAY_ID}`,
        `${pointPath}/UsageSummary`,
      ]
    ) {
      const answer = await fetchEspi(path, token);
      assert.equal(answer.status, 404, path);
      assert.equal(answer.body, unknown.body, path);
    }
    assert.equal(
      (await fetchEspi(`UsagePoint/${flat2.usagePointId}/UsageSummary`, token)).status,
      404,
    );
    const list = await fetchEspi(`Subscription/${flat2.subscriptionId}/UsagePoint`, token);
    assert.equal(list.status, 200);
    assert.equal(parseFeed(list.body).entries.length, 0);
    // The shop's own subscription did not name that meter, so it does not gain it either; its
    // Download My Data does.
    const shopFeed = await fetchEspi(`Batch/Subscription/${shop.subscriptionId}`, {
      token: shop.accessToken,
    });
    assert.ok(!shopFeed.body.includes(flat2.usagePointId));
    const shopData = await fetchEspi("Batch/RetailCustomer/3/UsagePoint", { cookie: shop.cookie });
    assert.ok(shopData.body.includes(flat2.usagePointId));
    const flatData = await fetchEspi("Batch/RetailCustomer/2/UsagePoint", { cookie: flat2.cookie });
    assert.ok(!flatData.body.includes(flat2.usagePointId));

    // Given back, the grant shows it again.
    assert.ok(assignMeter(fixture.db, flat2.meter, flat2.householdId));
    const back = await fetchEspi(batchPath, token);
    assert.equal(back.status, 200);
    assert.ok(back.body.includes(flat2.usagePointId));
    assert.equal((await fetchEspi(pointPath, token)).status, 200);
  });
});

Deno.test("notifications name only subscriptions whose household owns the meter", async () => {
  const inbox = receiver();
  await withBuilding(async ({ fixture, sides }) => {
    const { db } = fixture;
    const [, flat2, shop] = sides;
    const notified = registerApp(db, {
      name: "Notified coach",
      redirectUris: ["https://notified.example/callback"],
      notifyUri: inbox.uri,
      nowMs: END_MS,
    });
    // Both the flat and the shop authorize it over the flat's meter (the shop's grant names a
    // meter it does not own: it reads nothing of it until the meter is the shop's).
    const grant = (householdId: number) =>
      createAuthorization(db, {
        clientId: notified.app.clientId,
        scope: notified.app.scopes[0],
        usagePointIds: [flat2.usagePointId],
        householdId,
        nowMs: END_MS,
      }).subscriptionId;
    const flatSubscription = grant(flat2.householdId);
    const shopSubscription = grant(shop.householdId);
    const bus = new LiveBus();
    const notifier = startEspiNotifier({
      db,
      bus,
      resourceBaseUrl: "https://gw.example/espi/1_1/resource",
      minIntervalMs: 0,
    });
    const uri = (subscriptionId: string) =>
      `https://gw.example/espi/1_1/resource/Batch/Subscription/${subscriptionId}`;
    let timeMs = END_MS;
    const publish = () => {
      timeMs += 30_000;
      bus.publish({
        type: "stored",
        port: "/dev/ttyACM0",
        meterKey: flat2.meter,
        event: {
          fragment: "CurrentSummationDelivered",
          device: "0xd8d5b9000000abcd",
          meter: flat2.meter,
          timeMs,
          kind: "summation",
          summationDeliveredWh: timeMs / 1000,
          summationReceivedWh: null,
          digitsRight: 3,
        },
        receivedAtMs: timeMs,
      });
    };
    try {
      publish();
      await inbox.waitFor(1);
      assert.deepEqual(batchUris(inbox.received[0].body), [uri(flatSubscription)]);
      assignMeter(db, flat2.meter, shop.householdId);
      publish();
      await inbox.waitFor(2);
      assert.deepEqual(batchUris(inbox.received[1].body), [uri(shopSubscription)]);
      assignMeter(db, flat2.meter, null);
      publish();
      // Let the notifier take that event while the meter is nobody's.
      await new Promise((resolve) => setTimeout(resolve, 200));
      assignMeter(db, flat2.meter, flat2.householdId);
      publish();
      await inbox.waitFor(3);
      // The meter owned by nobody notified nobody: the third POST is the flat's again.
      assert.deepEqual(batchUris(inbox.received[2].body), [uri(flatSubscription)]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(inbox.received.length, 3);
    } finally {
      await notifier.stop();
    }
  }).finally(() => inbox.close());
});
