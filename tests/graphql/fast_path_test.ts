/**
 * The `/graphql` fast path (`src/graphql/fast_path.ts`) through real HTTP on one gateway: two
 * servers over the same database and bus, one with the fast path and one answering everything
 * through yoga, are asked the same requests, and every answer must match byte for byte (status,
 * content type, body). The fast path's counts show which requests it answered, so a fast path that
 * stops being taken fails here too. Credentials and households are changed between requests: a
 * cached document never carries a credential decision.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { revokeAuthorization } from "../../src/auth/authorizations.ts";
import { createHttpApp } from "../../src/app/http_app.ts";
import type { FastPathStats } from "../../src/graphql/fast_path.ts";
import { DEFAULT_QUERY_LIMITS } from "../../src/graphql/limits.ts";
import { PreparedDocuments } from "../../src/graphql/prepared_documents.ts";
import { buildGraphqlSchema } from "../../src/graphql/server.ts";
import { assignMeter } from "../../src/store/households.ts";
import type { HttpServer } from "../../src/http/server.ts";
import { makeBuilding } from "../building.ts";
import { type GatewayFixture, startGatewayFixture, waitForMeters } from "./fixture.ts";

const FULL_SCOPE =
  "FB=1_3_4_5_6_13_14_39;IntervalDuration=900;BlockDuration=daily;HistoryLength=172800";
/** No function block 6: no power demand. */
const NO_DEMAND_SCOPE = "FB=1_3_4_5_13_14_39;IntervalDuration=900;BlockDuration=daily";

const SMALL = "{ meters { id demand { demandW } } }";

interface Servers {
  fast: HttpServer;
  plain: HttpServer;
  stats: () => FastPathStats;
  close(): Promise<void>;
}

/** The fast-path server and the yoga-only server over the fixture's database. */
async function servers(fixture: GatewayFixture): Promise<Servers> {
  let stats: (() => FastPathStats) | null = null;
  const start = (fastPath: boolean) =>
    createHttpApp({
      hostname: "127.0.0.1",
      port: 0,
      services: {
        db: fixture.db,
        nowMs: Date.now,
        publicBaseUrl: "",
        timeZone: "UTC",
        secure: false,
      },
      auth: true,
      graphql: {
        bus: fixture.bus,
        supervisors: fixture.gateway.supervisors,
        version: "0.0.0-test",
        startedMs: 0,
        fastPath,
        onFastPathStats: (get) => stats = get,
      },
      onError: (error) => console.error(error),
    });
  const fast = start(true);
  const plain = start(false);
  // `/graphql` is loaded on its first request, which reports the counts.
  await (await fetch(`${fast.url}/graphql`, { method: "POST" })).body?.cancel();
  return {
    fast,
    plain,
    stats: () => {
      assert.ok(stats !== null, "the fast path reports no counts");
      return stats();
    },
    async close() {
      await fast.shutdown();
      await plain.shutdown();
    },
  };
}

interface Ask {
  /**
   * A JSON body as text, so bodies yoga reads differently can be sent too; with `GET`, the URL's
   * search string.
   */
  body: string;
  method?: "GET";
  /** "owner" for the fixture's cookie, else a bearer token or a cookie header value. */
  as: string;
  headers?: Record<string, string>;
}

interface Answer {
  status: number;
  type: string | null;
  encoding: string | null;
  vary: string | null;
  headers: [string, string][];
  body: string;
}

async function ask(server: HttpServer, fixture: GatewayFixture, request: Ask): Promise<Answer> {
  const credentials: Record<string, string> = request.as === "owner"
    ? { Cookie: fixture.ownerCookie }
    : request.as.includes("=")
    ? { Cookie: request.as }
    : { Authorization: `Bearer ${request.as}` };
  const get = request.method === "GET";
  const response = await fetch(`${server.url}/graphql${get ? `?${request.body}` : ""}`, {
    method: request.method ?? "POST",
    headers: {
      ...get ? {} : { "Content-Type": "application/json" },
      ...credentials,
      ...request.headers,
      // "own": the server's own origin, which differs between the two servers.
      ...request.headers?.Origin === "own" ? { Origin: new URL(server.url).origin } : {},
    },
    body: get ? undefined : request.body,
  });
  return {
    status: response.status,
    type: response.headers.get("content-type"),
    encoding: response.headers.get("content-encoding"),
    vary: response.headers.get("vary"),
    // Every header but the clock's (content-length is that of the gzipped body when gzipped).
    // The servers' own origins differ; they are "own" here.
    headers: [...response.headers].filter(([name]) => name !== "date")
      .map(([name, value]) => [name, value.replace(new URL(server.url).origin, "own")]),
    // fetch undoes gzip: the body compared is what the client reads.
    body: await response.text(),
  };
}

/** Runs `run` on a gateway with `meters` simulated meters and its two servers, then stops them. */
async function withServers(
  meters: number,
  run: (fixture: GatewayFixture, s: Servers) => Promise<void>,
): Promise<void> {
  const fixture = await startGatewayFixture({ simulated: meters, speed: 1 });
  const s = await servers(fixture);
  try {
    await run(fixture, s);
  } finally {
    await s.close();
    await fixture.close();
  }
}

/**
 * Asks both servers until their answers agree, a few times at most: a live reading stored between
 * the two requests changes `demand`. A fast path that answers differently never agrees.
 */
async function bothAnswer(
  s: Servers,
  fixture: GatewayFixture,
  request: Ask,
): Promise<Answer> {
  let fast: Answer | null = null;
  let plain: Answer | null = null;
  for (let attempt = 0; attempt < 5; attempt++) {
    fast = await ask(s.fast, fixture, request);
    plain = await ask(s.plain, fixture, request);
    if (JSON.stringify(fast) === JSON.stringify(plain)) return fast;
  }
  assert.deepEqual(fast, plain, `fast path and yoga differ for ${request.body}`);
  return fast!;
}

/**
 * Waits until the simulated meters' backfill is stored: their latest demand stays the same for a
 * while (at speed 1 a live reading comes every few seconds), so both servers read the same data.
 */
async function settled(fixture: GatewayFixture, count: number): Promise<string[]> {
  const ids = await waitForMeters(fixture, count);
  let last = "";
  for (let attempt = 0; attempt < 100; attempt++) {
    const now = JSON.stringify((await fixture.graphql(SMALL)).data);
    if (now === last) return ids;
    last = now;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  throw new Error("the meters' demand never settled");
}

const search = (params: Record<string, string>) => new URLSearchParams(params).toString();

const body = (query: string, rest: Record<string, unknown> = {}) =>
  JSON.stringify({ query, ...rest });

Deno.test("fast path: repeated queries answer byte-identically to yoga, and are answered by it", async () => {
  await withServers(2, async (fixture, s) => {
    const [meterId] = await settled(fixture, 2);
    const app = fixture.appToken({ scope: FULL_SCOPE, meterIds: [meterId] });
    const toMs = Date.now();
    const series = `query Series($from: DateTime!, $to: DateTime!) {
      meters { id demandSeries(from: $from, to: $to, bucket: FIFTEEN_MINUTES) { start avgW minW maxW } }
    }`;
    const variables = {
      from: new Date(toMs - 2 * 3_600_000).toISOString(),
      // In the past: the live reading's bucket would change between the two servers' answers.
      to: new Date(toMs - 1_800_000).toISOString(),
    };
    const twoOperations = "query A { meters { id } } query B { viewer { kind appName } }";
    const requests: Ask[] = [];
    for (const as of ["owner", app.token]) {
      for (
        const accept of [undefined, "*/*", "application/json", "application/graphql-response+json"]
      ) {
        requests.push({ as, body: body(SMALL), headers: accept ? { Accept: accept } : {} });
      }
      requests.push(
        { as, body: body(series, { variables }) },
        // Over 1 KB: gzipped when asked, with Vary either way.
        { as, body: body(series, { variables }), headers: { "Accept-Encoding": "gzip" } },
        { as, body: body(twoOperations, { operationName: "B", variables: null }) },
        { as, body: body("{ viewer { kind scopeDescription } }") },
        { as, method: "GET", body: search({ query: SMALL }) },
        {
          as,
          method: "GET",
          body: search({
            query: series,
            variables: JSON.stringify(variables),
            operationName: "Series",
          }),
          headers: { Accept: "application/graphql-response+json" },
        },
      );
    }
    // First sight goes to yoga, so a one-off text is never compiled.
    const first = await ask(s.fast, fixture, requests[0]);
    assert.equal(first.status, 200, first.body);
    assert.equal(s.stats().served, 0, "a first sight is yoga's");
    for (const request of requests) {
      const answer = await bothAnswer(s, fixture, request);
      assert.equal(answer.status, 200, answer.body);
      assert.doesNotMatch(answer.body, /"errors"/);
    }
    // Every text has been seen: each request now is answered by the fast path, the same as yoga.
    for (const request of requests) {
      const servedBefore = s.stats().served;
      await bothAnswer(s, fixture, request);
      assert.ok(s.stats().served > servedBefore, `not fast-pathed: ${request.body}`);
    }
    const gzipped = await ask(s.fast, fixture, requests[5]);
    assert.equal(gzipped.encoding, "gzip");
    assert.equal(gzipped.vary, "Accept-Encoding");

    // What the fast path leaves to yoga: an Origin (CORS headers), other media types, extensions.
    const servedBefore = s.stats().served;
    for (
      const headers of <Record<string, string>[]> [
        { Origin: "own" },
        { Accept: "application/graphql-response+json, application/json;q=0.9" },
        { Accept: "text/event-stream" },
      ]
    ) {
      for (let i = 0; i < 2; i++) {
        await bothAnswer(s, fixture, { as: "owner", body: body(SMALL), headers });
      }
    }
    for (let i = 0; i < 2; i++) {
      await bothAnswer(s, fixture, { as: app.token, body: body(SMALL, { extensions: {} }) });
    }
    assert.equal(s.stats().served, servedBefore);
  });
});

Deno.test("fast path: errors, refusals and other operations are yoga's answers exactly", async () => {
  await withServers(1, async (fixture, s) => {
    const [meterId] = await settled(fixture, 1);
    const app = fixture.appToken({ scope: FULL_SCOPE, meterIds: [meterId] });
    const narrow = fixture.appToken({ scope: NO_DEMAND_SCOPE, meterIds: [meterId] });
    const series =
      "query S($from: DateTime!) { meters { demandSeries(from: $from, to: $from) { start } } }";
    const aliases = `{ ${Array.from({ length: 25 }, (_, i) => `m${i}: meters { id }`).join(" ")} }`;
    const cases: Ask[] = [
      // Variables of the wrong type, or missing.
      { as: app.token, body: body(series, { variables: { from: "yesterday" } }) },
      { as: app.token, body: body(series, { variables: {} }) },
      { as: app.token, body: body(series) },
      // An operation name the document lacks; several operations and no name.
      { as: app.token, body: body(SMALL, { operationName: "Nope" }) },
      { as: app.token, body: body("query A { meters { id } } query B { meters { id } }") },
      { as: app.token, body: body(SMALL, { operationName: "" }) },
      // Mutations and subscriptions.
      { as: app.token, body: body("mutation { setExportAllowed(allowed: false) { id } }") },
      {
        as: "owner",
        body: body("subscription { demand { demandW } }"),
        headers: { Accept: "application/json" },
      },
      // Introspection by an app (the owner may).
      { as: app.token, body: body("{ __schema { queryType { name } } }") },
      { as: app.token, body: body('{ meters { id } __type(name: "Meter") { name } }') },
      // Over the limits: aliases, depth, size; a syntax error; an unknown field.
      { as: app.token, body: body(aliases) },
      { as: app.token, body: body(`{ meters { id } }${" ".repeat(17 * 1024)}`) },
      {
        as: "owner",
        body: body(
          `{ __schema { types { ${"fields { type { ".repeat(8)}name${" } }".repeat(8)} } } }`,
        ),
      },
      { as: app.token, body: body("{ meters { id ") },
      { as: app.token, body: body("{ meters { nope } }") },
      // A person's fields asked by an app (role directives), a kind of data not granted.
      { as: app.token, body: body("{ households { id } }") },
      { as: narrow.token, body: body(SMALL) },
      // Bodies the fast path does not read.
      { as: app.token, body: "[]" },
      { as: app.token, body: "{" },
      { as: app.token, body: body(SMALL, { variables: [] }) },
      { as: app.token, body: body(SMALL, { extra: 1 }) },
      // URLs the fast path does not read, and a mutation over GET.
      { as: app.token, method: "GET", body: search({ query: SMALL, extra: "1" }) },
      { as: app.token, method: "GET", body: `${search({ query: SMALL })}&query=x` },
      { as: app.token, method: "GET", body: search({ query: series, variables: "{" }) },
      { as: app.token, method: "GET", body: search({ query: series, variables: "[]" }) },
      { as: app.token, method: "GET", body: search({ query: SMALL, operationName: "" }) },
      {
        as: "owner",
        method: "GET",
        body: search({ query: "mutation { setExportAllowed(allowed: true) { id } }" }),
      },
      { as: "owner", method: "GET", body: "" },
    ];
    for (const request of cases) {
      const servedBefore = s.stats().served;
      for (let i = 0; i < 3; i++) await bothAnswer(s, fixture, request);
      assert.equal(s.stats().served, servedBefore, `fast-pathed: ${request.body.slice(0, 80)}`);
    }

    // A document the fast path holds, asked by a grant without its kind of data: yoga's FORBIDDEN.
    for (let i = 0; i < 2; i++) await bothAnswer(s, fixture, { as: app.token, body: body(SMALL) });
    const servedBefore = s.stats().served;
    const forbidden = await bothAnswer(s, fixture, { as: narrow.token, body: body(SMALL) });
    assert.equal(JSON.parse(forbidden.body).errors[0].extensions.code, "FORBIDDEN");
    assert.equal(s.stats().served, servedBefore);
  });
});

Deno.test("fast path: a revoked grant is refused on the very next request", async () => {
  await withServers(1, async (fixture, s) => {
    const [meterId] = await settled(fixture, 1);
    const app = fixture.appToken({ scope: FULL_SCOPE, meterIds: [meterId] });
    const request = { as: app.token, body: body(SMALL) };
    await ask(s.fast, fixture, request);
    const servedBefore = s.stats().served;
    assert.equal((await ask(s.fast, fixture, request)).status, 200);
    assert.equal(s.stats().served, servedBefore + 1);
    revokeAuthorization(fixture.db, app.authorizationId, Date.now());
    const refused = await bothAnswer(s, fixture, request);
    assert.equal(refused.status, 401);
    assert.equal(JSON.parse(refused.body).errors[0].extensions.code, "UNAUTHENTICATED");
    assert.equal(s.stats().served, servedBefore + 1);
  });
});

Deno.test("fast path: a meter moved to another household drops out of the next answer", async () => {
  await withServers(3, async (fixture, s) => {
    await settled(fixture, 3);
    const { a, b } = makeBuilding(fixture.db);
    const app = fixture.appToken({
      scope: FULL_SCOPE,
      meterIds: a.meterIds,
      householdId: a.householdId,
    });
    const meters = body("{ meters { id } }");
    const ids = async (as: string) => {
      const answer = await bothAnswer(s, fixture, { as, body: meters });
      return JSON.parse(answer.body).data.meters.map((meter: { id: string }) => meter.id);
    };
    for (const as of [app.token, a.cookie]) {
      await ids(as);
      const servedBefore = s.stats().served;
      assert.deepEqual(await ids(as), a.meterIds);
      assert.ok(s.stats().served > servedBefore, "not fast-pathed");
    }
    assignMeter(fixture.db, a.meterKeys[1], b.householdId);
    const servedBefore = s.stats().served;
    assert.deepEqual(await ids(app.token), [a.meterIds[0]]);
    assert.deepEqual(await ids(a.cookie), [a.meterIds[0]]);
    assert.deepEqual((await ids(b.cookie)).sort(), [...b.meterIds, a.meterIds[1]].sort());
    assert.ok(s.stats().served > servedBefore, "not fast-pathed");
  });
});

Deno.test("prepared documents stay bounded under 10 000 distinct query texts", () => {
  const schema = buildGraphqlSchema(
    Deno.readTextFileSync(new URL("../../schema/openseg.graphql", import.meta.url)),
  );
  const documents = new PreparedDocuments({
    schema,
    limits: DEFAULT_QUERY_LIMITS,
    maxEntries: 100,
    maxQueryChars: 20_000,
  });
  const hot = "{ meters { id } }";
  documents.lookup(hot, null);
  assert.notEqual(documents.lookup(hot, null), null, "a query seen twice is prepared");
  // A poller with literal timestamps: every text seen once. The hot query stays prepared.
  for (let i = 0; i < 10_000; i++) {
    assert.equal(documents.lookup(`{ meters { id name } } # ${i}`, null), null);
    if (i % 100 === 0) assert.notEqual(documents.lookup(hot, null), null);
  }
  // Texts seen twice each: bounded by entries, and by characters with long texts.
  for (let i = 0; i < 10_000; i++) {
    const text = `{ meters { id } } # ${i}${i % 2 === 0 ? " ".repeat(500) : ""}`;
    documents.lookup(text, null);
    documents.lookup(text, null);
    const stats = documents.stats();
    assert.ok(stats.entries <= 100 && stats.queryChars <= 20_000, JSON.stringify(stats));
    assert.ok(stats.seenOnce <= 100 && stats.seenOnceChars <= 20_000, JSON.stringify(stats));
  }
  assert.equal(documents.stats().compiles, 10_001);
});

/** Asks `request` of the fast server until one answer is a kept one; returns that answer. */
async function keptAnswer(s: Servers, fixture: GatewayFixture, request: Ask): Promise<Answer> {
  // A live reading stored between two asks changes the store's version: ask again.
  for (let attempt = 0; attempt < 10; attempt++) {
    const hitsBefore = s.stats().results.hits;
    const answer = await ask(s.fast, fixture, request);
    if (s.stats().results.hits > hitsBefore) return answer;
  }
  throw new Error(`never answered from the kept answers: ${request.body}`);
}

Deno.test("kept answers: a change to the store, by this process or another, shows on the next request", async () => {
  await withServers(1, async (fixture, s) => {
    const other = new DatabaseSync(fixture.db.location()!);
    try {
      const [meterId] = await settled(fixture, 1);
      const names = { as: "owner", body: body("{ meters { id name } }") };
      const nameOf = (answer: Answer) => JSON.parse(answer.body).data.meters[0].name;
      await ask(s.fast, fixture, names);
      assert.equal(nameOf(await keptAnswer(s, fixture, names)), null);

      // Through the API (yoga runs mutations): the very next ask has the new name.
      const renamed = await fixture.graphql(
        `mutation { renameMeter(id: "${meterId}", name: "Garage") { name } }`,
      );
      assert.equal(renamed.data?.renameMeter.name, "Garage");
      assert.equal(nameOf(await ask(s.fast, fixture, names)), "Garage");

      // Another connection, as the command line would: its commit is seen at once too.
      await keptAnswer(s, fixture, names);
      other.prepare("UPDATE meters SET name = 'Shed'").run();
      assert.equal(nameOf(await ask(s.fast, fixture, names)), "Shed");
      assert.equal(nameOf(await keptAnswer(s, fixture, names)), "Shed");
    } finally {
      other.close();
    }
  });
});

Deno.test("kept answers: one reader's answer never goes to another; the gateway's state is never kept", async () => {
  await withServers(3, async (fixture, s) => {
    await settled(fixture, 3);
    const { a, b } = makeBuilding(fixture.db);
    const meters = body("{ meters { id } }");
    const ids = (answer: Answer) =>
      JSON.parse(answer.body).data.meters.map((meter: { id: string }) => meter.id).sort();
    for (const reader of [a, b]) {
      await ask(s.fast, fixture, { as: reader.cookie, body: meters });
    }
    // Each reader's second ask is kept and its third is answered from it, each with its own meters.
    for (const reader of [a, b, a, b]) {
      const answer = await keptAnswer(s, fixture, { as: reader.cookie, body: meters });
      assert.deepEqual(ids(answer), [...reader.meterIds].sort());
    }

    const uptime = { as: "owner", body: body("{ gateway { uptimeS } }") };
    await ask(s.fast, fixture, uptime);
    const before = s.stats();
    const uptimes: number[] = [];
    for (let i = 0; i < 3; i++) {
      uptimes.push(JSON.parse((await ask(s.fast, fixture, uptime)).body).data.gateway.uptimeS);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const after = s.stats();
    assert.equal(after.served, before.served + 3, "not fast-pathed");
    assert.equal(after.results.hits, before.results.hits);
    assert.ok(uptimes[0] < uptimes[1] && uptimes[1] < uptimes[2], `${uptimes}`);
  });
});
