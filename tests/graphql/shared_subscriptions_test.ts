/**
 * Shared subscription executions over real SSE: identical subscriptions of one caller share one
 * bus subscription yet each client gets every update and leaves on its own; different callers
 * never share; a revoked app token's stream ends with `UNAUTHENTICATED` while the owner's goes
 * on, also when no events flow; an ended owner session ends its stream too. Each event on the
 * bus comes from a fragment written on the pseudo-terminal.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createClient } from "graphql-sse";
import { revokeAuthorization } from "../../src/auth/authorizations.ts";
import { createSession, endSession, SESSION_COOKIE } from "../../src/auth/sessions.ts";
import { hashSecret } from "../../src/auth/secrets.ts";
import { demandFragment, waitFor } from "../e2e/helpers.ts";
import { type GatewayFixture, SCRIPTED_METER, startGatewayFixture } from "./fixture.ts";

/** Demand may be read live: function block 6 is granted. */
const DEMAND_SCOPE = "FB=1_3_4_5_6_13_14_39;IntervalDuration=900;HistoryLength=172800";
const DEMAND_QUERY = "subscription { demand { meterId demand { signedDemandW } } }";

type Update = { data?: { demand: { demand: { signedDemandW: number } } }; errors?: unknown[] };

/** One SSE client collecting everything it receives until its stream ends. */
function follow(fixture: GatewayFixture, headers: Record<string, string>, query = DEMAND_QUERY) {
  const client = createClient({ url: `${fixture.url}/graphql`, headers, retryAttempts: 0 });
  const received: Update[] = [];
  let connected = false;
  let ended = false;
  const done = (async () => {
    const updates = client.iterate({ query }, { connected: () => (connected = true) });
    try {
      for await (const result of updates) received.push(result as Update);
    } catch (error) {
      received.push({ errors: [String(error)] });
    }
    ended = true;
  })();
  return {
    received,
    done,
    isEnded: () => ended,
    isConnected: () => connected,
    values: () =>
      received.flatMap((update) => update.data ? [update.data.demand.demand.signedDemandW] : []),
    dispose: () => client.dispose(),
  };
}

interface Scene {
  fixture: GatewayFixture;
  meterId: string;
  /** A new client, closed when the test ends. */
  follow: (headers: Record<string, string>, query?: string) => Follower;
  /** Writes a demand fragment on the pty, `offsetS` seconds after the scene's start. */
  writeDemand: (offsetS: number, demandW: number) => Promise<void>;
}

type Follower = ReturnType<typeof follow>;

/** A gateway with one scripted meter that has sent a first reading; clients closed afterwards. */
async function withScriptedMeter(run: (scene: Scene) => Promise<void>): Promise<void> {
  const fixture = await startGatewayFixture({ simulated: 0, scripted: true });
  const clients: Follower[] = [];
  const startS = Math.floor(Date.now() / 1000) - 60;
  const writeDemand = (offsetS: number, demandW: number) =>
    fixture.scripted!.write(demandFragment(SCRIPTED_METER, (startS + offsetS) * 1000, demandW));
  try {
    await fixture.scripted!.announceMeter(SCRIPTED_METER);
    await writeDemand(0, 1);
    await waitFor(
      "the scripted meter",
      () => (fixture.db.prepare("SELECT count(*) AS n FROM meters").get() as { n: number }).n === 1,
    );
    const meterId = (await fixture.graphql("{ meters { id } }")).data.meters[0].id;
    await run({
      fixture,
      meterId,
      writeDemand,
      follow: (headers, query) => {
        const client = follow(fixture, headers, query);
        clients.push(client);
        return client;
      },
    });
  } finally {
    for (const client of clients) client.dispose();
    await fixture.close();
  }
}

Deno.test("identical subscriptions share one execution; each client gets every update", () =>
  withScriptedMeter(async ({ fixture, follow, writeDemand }) => {
    const owner = { Cookie: fixture.ownerCookie };
    const clients = [follow(owner), follow(owner), follow(owner)];
    await waitFor("three connected clients", () => clients.every((c) => c.isConnected()));
    assert.equal(fixture.bus.subscriberCount, 1, "one execution, one bus subscription");

    await writeDemand(1, 500);
    await writeDemand(2, 600);
    await waitFor(
      "both updates at every client",
      () => clients.every((c) => c.values().length === 2),
    );
    for (const client of clients) assert.deepEqual(client.values(), [500, 600]);

    // One client leaves: the others keep the execution and go on receiving.
    clients[0].dispose();
    await clients[0].done;
    await writeDemand(3, 700);
    await waitFor("the third update", () => clients[1].values().length === 3);
    await waitFor("the third update", () => clients[2].values().length === 3);
    assert.deepEqual(clients[0].values(), [500, 600]);
    assert.equal(fixture.bus.subscriberCount, 1);

    // The last client leaves: the execution and its bus subscription end.
    clients[1].dispose();
    clients[2].dispose();
    await waitFor("the bus subscription to close", () => fixture.bus.subscriberCount === 0);

    // A new client after that starts a new execution and sees only what comes next.
    const later = follow(owner);
    await waitFor("the new client", () => later.isConnected());
    await writeDemand(4, 800);
    await waitFor("the update after rejoining", () => later.values().length === 1);
    assert.deepEqual(later.values(), [800]);
  }));

Deno.test("different callers or documents never share an execution", () =>
  withScriptedMeter(async ({ fixture, meterId, follow, writeDemand }) => {
    const app = fixture.appToken({ scope: DEMAND_SCOPE, meterIds: [meterId] });
    const otherApp = fixture.appToken({ scope: DEMAND_SCOPE, meterIds: [] });
    const owner = follow({ Cookie: fixture.ownerCookie });
    const granted = follow({ Authorization: `Bearer ${app.token}` });
    const notGranted = follow({ Authorization: `Bearer ${otherApp.token}` });
    const otherQuery = follow(
      { Cookie: fixture.ownerCookie },
      "subscription { demand { demand { signedDemandW at } } }",
    );
    const clients = [owner, granted, notGranted, otherQuery];
    await waitFor("four connected clients", () => clients.every((c) => c.isConnected()));
    assert.equal(fixture.bus.subscriberCount, 4);

    await writeDemand(1, 900);
    await writeDemand(2, 901);
    await waitFor(
      "both updates",
      () => [owner, granted, otherQuery].every((c) => c.values().length === 2),
    );
    // The app granted no meter hears nothing, even though it asked the same thing.
    assert.deepEqual(notGranted.received, []);
  }));

Deno.test("a subscription that cannot start answers its error to each client and keeps nothing", () =>
  withScriptedMeter(async ({ fixture, follow, writeDemand }) => {
    const owner = { Cookie: fixture.ownerCookie };
    const query = 'subscription { demand(meterId: "no-such-meter") { meterId } }';
    const clients = [follow(owner, query), follow(owner, query)];
    await waitFor("both streams to end", () => clients.every((c) => c.isEnded()));
    for (const client of clients) {
      const [only] = client.received as { errors: { extensions?: { code?: string } }[] }[];
      assert.equal(only.errors[0].extensions?.code, "NOT_FOUND");
    }
    assert.equal(fixture.bus.subscriberCount, 0);
    // The same document later, for a meter that exists, starts afresh and works.
    const working = follow(owner);
    await waitFor("the working client", () => working.isConnected());
    await writeDemand(1, 42);
    await waitFor("its update", () => working.values().length === 1);
  }));

Deno.test("a revoked token's stream ends with UNAUTHENTICATED; the owner's goes on", () =>
  withScriptedMeter(async ({ fixture, meterId, follow, writeDemand }) => {
    const app = fixture.appToken({ scope: DEMAND_SCOPE, meterIds: [meterId] });
    const asApp = { Authorization: `Bearer ${app.token}` };
    const apps = [follow(asApp), follow(asApp)];
    const owner = follow({ Cookie: fixture.ownerCookie });
    await waitFor("three connected clients", () => [...apps, owner].every((c) => c.isConnected()));

    await writeDemand(1, 100);
    await waitFor("the first update", () => [...apps, owner].every((c) => c.values().length === 1));

    assert.ok(revokeAuthorization(fixture.db, app.authorizationId, Date.now()));
    await writeDemand(2, 200);
    for (const client of apps) {
      await waitFor("the revoked stream to end", () => client.isEnded());
      assert.deepEqual(client.values(), [100], "nothing after the revocation");
      const last = client.received.at(-1) as { errors: { extensions?: { code?: string } }[] };
      assert.equal(last.errors[0].extensions?.code, "UNAUTHENTICATED");
    }
    await waitFor("the owner's second update", () => owner.values().length === 2);
    assert.deepEqual(owner.values(), [100, 200]);
  }));

Deno.test("a revoked token's stream ends even while the meter sends nothing", () =>
  withScriptedMeter(async ({ fixture, meterId, follow }) => {
    const app = fixture.appToken({ scope: DEMAND_SCOPE, meterIds: [meterId] });
    const quiet = follow({ Authorization: `Bearer ${app.token}` });
    await waitFor("the connected client", () => quiet.isConnected());
    assert.ok(revokeAuthorization(fixture.db, app.authorizationId, Date.now()));
    await waitFor("the revoked stream to end", () => quiet.isEnded());
    const last = quiet.received.at(-1) as { errors: { extensions?: { code?: string } }[] };
    assert.equal(last.errors[0].extensions?.code, "UNAUTHENTICATED");
    await waitFor("the execution to end", () => fixture.bus.subscriberCount === 0);
  }));

Deno.test("signing out ends the owner's stream from that session only", () =>
  withScriptedMeter(async ({ fixture, follow, writeDemand }) => {
    const other = createSession(fixture.db, { nowMs: Date.now(), secure: false });
    const leaving = follow({ Cookie: `${SESSION_COOKIE}=${other.sessionId}` });
    const staying = follow({ Cookie: fixture.ownerCookie });
    await waitFor("two connected clients", () => leaving.isConnected() && staying.isConnected());
    assert.equal(fixture.bus.subscriberCount, 1, "the owner's sessions share one execution");

    endSession(fixture.db, hashSecret(other.sessionId));
    await writeDemand(1, 300);
    await waitFor("the signed-out stream to end", () => leaving.isEnded());
    assert.deepEqual(leaving.values(), []);
    await waitFor("the staying session's update", () => staying.values().length === 1);
  }));
