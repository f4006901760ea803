/**
 * The statement cache (`src/store/statements.ts`): one statement per SQL and database, rows as
 * arrays kept apart from rows as objects, a bound on how many it keeps; and, through the real HTTP
 * server over a 48-hour database, that a request repeated after a warm-up prepares no statement
 * (a bearer-token GraphQL query, the same with the owner's cookie, and the ESPI feed).
 *
 * @module
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { createHttpApp } from "../../src/app/http_app.ts";
import { registerApp } from "../../src/auth/apps.ts";
import { createAuthorization } from "../../src/auth/authorizations.ts";
import { createSession, SESSION_COOKIE } from "../../src/auth/sessions.ts";
import { mintToken } from "../../src/auth/tokens.ts";
import { LiveBus } from "../../src/live/bus.ts";
import { all, arrayStatement, get, statement } from "../../src/store/statements.ts";
import { END_MS, espiFixture, HOUR_MS, scope } from "../espi/fixtures.ts";

Deno.test("one statement per SQL text and database, rows as arrays apart", () => {
  const first = new DatabaseSync(":memory:");
  const second = new DatabaseSync(":memory:");
  try {
    first.exec("CREATE TABLE t (a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'x'), (2, 'y')");
    second.exec("CREATE TABLE t (a INTEGER, b TEXT); INSERT INTO t VALUES (3, 'z')");
    const sql = "SELECT a, b FROM t ORDER BY a";
    assert.equal(statement(first, sql), statement(first, sql));
    assert.notEqual(statement(first, sql), statement(second, sql));
    // The arrays statement of the same SQL is another statement; the objects one is unchanged.
    assert.deepEqual(arrayStatement(first, sql).all(), [[1, "x"], [2, "y"]]);
    assert.equal(arrayStatement(first, sql), arrayStatement(first, sql));
    assert.deepEqual(all<{ a: number; b: string }>(first, sql).map((row) => ({ ...row })), [
      { a: 1, b: "x" },
      { a: 2, b: "y" },
    ]);
    assert.deepEqual({ ...get<{ a: number }>(second, "SELECT a FROM t WHERE a = ?", 3) }, { a: 3 });
    assert.equal(get(second, "SELECT a FROM t WHERE a = :a", { a: 4 }), undefined);
  } finally {
    first.close();
    second.close();
  }
});

Deno.test("SQL built from data cannot grow the cache without bound", () => {
  const db = new DatabaseSync(":memory:");
  try {
    const oldest = statement(db, "SELECT 0");
    for (let i = 1; i < 600; i++) statement(db, `SELECT ${i}`);
    // The oldest was dropped and is prepared anew; a recent one is still the same statement.
    assert.notEqual(statement(db, "SELECT 0"), oldest);
    assert.equal(statement(db, "SELECT 599"), statement(db, "SELECT 599"));
  } finally {
    db.close();
  }
});

/** Counts `DatabaseSync.prototype.prepare` calls while `run` runs. */
async function preparesDuring(run: () => Promise<void>): Promise<number> {
  const original = DatabaseSync.prototype.prepare;
  let count = 0;
  DatabaseSync.prototype.prepare = function (this: DatabaseSync, ...args) {
    count++;
    return original.apply(this, args);
  } as typeof original;
  try {
    await run();
  } finally {
    DatabaseSync.prototype.prepare = original;
  }
  return count;
}

Deno.test("a repeated request prepares no statement", async (t) => {
  const fixture = await espiFixture();
  const server = createHttpApp({
    hostname: "127.0.0.1",
    port: 0,
    services: { ...fixture.services(), publicBaseUrl: "", nowMs: () => END_MS },
    auth: true,
    espi: true,
    graphql: { bus: new LiveBus(), supervisors: [], version: "0.0.0-test", startedMs: END_MS },
  });
  try {
    const grantScope = scope().text;
    const { app } = registerApp(fixture.db, {
      name: "Energy Coach",
      redirectUris: ["https://app.example/callback"],
      scopes: [grantScope],
      nowMs: END_MS - HOUR_MS,
    });
    const authorization = createAuthorization(fixture.db, {
      clientId: app.clientId,
      scope: grantScope,
      usagePointIds: [fixture.solarUsagePointId, fixture.plainUsagePointId],
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
    const session = createSession(fixture.db, { nowMs: END_MS - 60_000, secure: false });
    const graphql = (credentials: Record<string, string>) => async () => {
      const response = await fetch(`${server.url}/graphql`, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/graphql-response+json",
          ...credentials,
        },
        body: JSON.stringify({ query: "{ meters { id demand { demandW } } }" }),
      });
      const body = await response.json();
      assert.equal(response.status, 200, JSON.stringify(body));
      assert.equal(body.data.meters.length, 2, JSON.stringify(body));
    };
    const kinds: [string, () => Promise<void>][] = [
      ["GraphQL with a bearer token", graphql({ Authorization: `Bearer ${token}` })],
      [
        "GraphQL with the owner's cookie",
        graphql({ Cookie: `${SESSION_COOKIE}=${session.sessionId}` }),
      ],
      ["ESPI Batch/Subscription feed", async () => {
        const response = await fetch(
          `${server.url}/espi/1_1/resource/Batch/Subscription/${authorization.subscriptionId}`,
          { headers: { Authorization: `Bearer ${token}` } },
        );
        const body = await response.text();
        assert.equal(response.status, 200, body);
        assert.match(body, /<espi:IntervalReading>/);
      }],
    ];
    for (const [name, send] of kinds) {
      await t.step(name, async () => {
        const warmUp = await preparesDuring(send);
        const repeat = await preparesDuring(send);
        console.log(`${name}: ${warmUp} prepares on the first request, ${repeat} on a repeat`);
        assert.equal(repeat, 0);
      });
    }
  } finally {
    await server.shutdown();
    await fixture.cleanup();
  }
});
