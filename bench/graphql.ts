/**
 * GraphQL benchmark, figures printed with their ratios:
 * 1. small query (latest demand of one meter): where the time goes, by timing the layers
 *    in-process (admission, yoga's pipeline, GraphQL execution). Its throughput against a plain
 *    server is `bench/http_load.ts`, under an external load generator: a `fetch` loop in this
 *    process capped the plain server at a few thousand req/s and so measured its own client;
 * 2. a 48-hour demand series in 15-minute buckets: server time per request;
 * 3. fan-out: 100 SSE subscribers (`graphql-sse`), a fragment written on the pseudo-terminal →
 *    the update received by every client (in another process, two kinds of client); p50/p99
 *    latency, against a plain `Deno.serve` SSE broadcast to the same clients.
 *
 * Run: `npx deno task bench`, or `deno run -A bench/graphql.ts`.
 *
 * @module
 */

import { execute, parse } from "graphql";
import { createSession, SESSION_COOKIE } from "../src/auth/sessions.ts";
import { OWNER_ACCESS } from "../src/graphql/access.ts";
import type { GraphqlContext } from "../src/graphql/context.ts";
import { buildGraphqlSchema, graphqlRoutes, SCHEMA_URL } from "../src/graphql/server.ts";
import type { HttpServices, RouteContext } from "../src/http/routes.ts";
import { LiveBus } from "../src/live/bus.ts";
import type { DemandEvent, SummationEvent } from "../src/radio/events.ts";
import { createHousehold } from "../src/sim/household.ts";
import { openDatabase } from "../src/store/db.ts";
import { IngestWriter } from "../src/store/ingest.ts";
import { latestReadings } from "../src/store/queries.ts";
import { usagePointIdFor } from "../src/store/usage_points.ts";
import { demandFragment, waitFor } from "../tests/e2e/helpers.ts";
import { SCRIPTED_METER, startGatewayFixture } from "../tests/graphql/fixture.ts";

const SUBSCRIBERS = 100;
/** Enough that p99 is a percentile, not the one slowest event. */
const FANOUT_EVENTS = 200;
const METER = "0x0013500100004242";
const HOUR_MS = 3_600_000;

/** 48 hours of one household through the real writer: demand every 8 s, summation every 60 s. */
function fill48Hours(db: ReturnType<typeof openDatabase>, endMs: number): void {
  const writer = new IngestWriter(db, { maxBatch: 100_000 });
  const household = createHousehold({ seed: 42, solar: true });
  const base = (fragment: string, timeMs: number) => ({
    fragment,
    device: "0xd8d5b90000004242",
    meter: METER,
    timeMs,
  });
  for (let timeMs = endMs - 48 * HOUR_MS; timeMs <= endMs; timeMs += 8000) {
    writer.add(
      "bench",
      {
        ...base("InstantaneousDemand", timeMs),
        kind: "demand",
        demandW: household.demandW(timeMs),
        digitsRight: 3,
      } satisfies DemandEvent,
      timeMs,
    );
    if (timeMs % 64_000 === 0) {
      const registers = household.advanceTo(timeMs);
      writer.add(
        "bench",
        {
          ...base("CurrentSummationDelivered", timeMs),
          kind: "summation",
          summationDeliveredWh: registers.summationDeliveredWh,
          summationReceivedWh: registers.summationReceivedWh,
          digitsRight: 3,
        } satisfies SummationEvent,
        timeMs,
      );
    }
  }
  writer.close();
}

/** Median and p99 of `run`'s duration over `n` calls, ms. */
async function timeIt(n: number, run: () => unknown): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < Math.min(50, n); i++) await run();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const startMs = performance.now();
    await run();
    times.push(performance.now() - startMs);
  }
  return percentiles(times);
}

function percentiles(values: number[]): { p50: number; p99: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50: at(0.5), p99: at(0.99) };
}

const fmt = (value: number, digits = 0) => value.toFixed(digits);
/** Wall-clock ms with sub-ms precision, comparable across processes on one machine. */
const wallNowMs = () => performance.timeOrigin + performance.now();
const us = (ms: number) => `${fmt(ms * 1000)} µs`;

async function queryBenchmarks(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "openseg-bench-graphql-" });
  const db = openDatabase(`${dir}/bench.db`);
  const nowMs = Date.now();
  fill48Hours(db, nowMs);
  const meterId = usagePointIdFor(db, METER);
  const services: HttpServices = {
    db,
    nowMs: Date.now,
    publicBaseUrl: "",
    timeZone: "UTC",
    secure: false,
  };
  const routes = graphqlRoutes({
    bus: new LiveBus(),
    supervisors: [],
    version: "bench",
    startedMs: nowMs,
  });
  const cookie = `${SESSION_COOKIE}=${createSession(db, { nowMs, secure: false }).sessionId}`;
  const small = `{ meter(id: "${meterId}") { demand { signedDemandW at } } }`;
  const smallBody = JSON.stringify({ query: small });
  const headers = { "Content-Type": "application/json", Cookie: cookie };
  const graphqlUrl = "http://127.0.0.1/graphql";

  // Where the time goes, in-process (no sockets): the route handler = admission + yoga;
  // graphql `execute` alone on a parsed document = resolvers and the store.
  const schema = buildGraphqlSchema(await Deno.readTextFile(SCHEMA_URL));
  const context: GraphqlContext = {
    access: OWNER_ACCESS,
    services,
    gateway: { bus: new LiveBus(), supervisors: [], version: "bench", startedMs: nowMs },
  };
  const routeContext: RouteContext = {
    url: new URL(graphqlUrl),
    params: {},
    services,
    remoteAddr: "127.0.0.1",
  };
  const handler = routes.find((route) => route.method === "POST")!.handler;
  const request = () => new Request(graphqlUrl, { method: "POST", headers, body: smallBody });
  const smallDocument = parse(small);
  const inHandler = await timeIt(3000, async () => {
    await (await handler(request(), routeContext)).arrayBuffer();
  });
  const inExecute = await timeIt(
    3000,
    () => execute({ schema, document: smallDocument, contextValue: context }),
  );
  const inStore = await timeIt(3000, () => latestReadings(db, METER));
  const { resolveCaller } = await import("../src/auth/resolve.ts");
  const inAdmission = await timeIt(3000, () => resolveCaller(request(), services));
  console.log(
    "where the time goes (median per request, in-process):\n" +
      `  route handler total ${us(inHandler.p50)}: admission (session lookup) ${
        us(inAdmission.p50)
      }, GraphQL execute ${us(inExecute.p50)} (of which the store ${us(inStore.p50)}), ` +
      `yoga's pipeline ≈ ${us(inHandler.p50 - inAdmission.p50 - inExecute.p50)}`,
  );

  // The 48-hour series in 15-minute buckets.
  const series = parse(`{ meter(id: "${meterId}") {
    demandSeries(from: "${new Date(nowMs - 48 * HOUR_MS).toISOString()}",
      to: "${new Date(nowMs).toISOString()}", bucket: FIFTEEN_MINUTES) {
      start avgW minW maxW samples } } }`);
  const seriesResult = await execute({ schema, document: series, contextValue: context });
  // deno-lint-ignore no-explicit-any
  const buckets = (seriesResult.data as any).meter.demandSeries.length;
  const seriesTime = await timeIt(
    500,
    () => execute({ schema, document: series, contextValue: context }),
  );
  const seriesBody = JSON.stringify({ query: (await import("graphql")).print(series) });
  const seriesHandler = await timeIt(300, async () => {
    const r = new Request(graphqlUrl, { method: "POST", headers, body: seriesBody });
    await (await handler(r, routeContext)).arrayBuffer();
  });
  console.log(
    `48-hour demand series, ${buckets} buckets of 15 min: execute p50 ${
      fmt(seriesTime.p50, 3)
    } ms, p99 ${fmt(seriesTime.p99, 3)} ms; whole handler p50 ${
      fmt(seriesHandler.p50, 3)
    } ms (aim < 2 ms)`,
  );

  db.close();
  await Deno.remove(dir, { recursive: true });
}

/** Latency percentiles of one fan-out run, ms. */
interface FanOutFigures {
  received: number;
  p50: number;
  p99: number;
  max: number;
  /** From the store's commit (gateway runs only). */
  afterCommit?: { p50: number; p99: number };
}

/**
 * Fragments written on the pty → updates received by `SUBSCRIBERS` SSE clients in a separate
 * process (as phones are). Latencies are wall-clock, so the two processes share a clock.
 */
async function gatewayFanOut(kind: ClientKind) {
  const fixture = await startGatewayFixture({ simulated: 0, scripted: true });
  const scripted = fixture.scripted!;
  const baseS = Math.floor(Date.now() / 1000) - 3600;
  // A meter is stored once fragments agree on its identity, never from one fragment alone.
  for (let i = 0; i < 3; i++) await scripted.write(demandFragment(SCRIPTED_METER, baseS * 1000, 0));
  await waitFor(
    "the scripted meter",
    () => (fixture.db.prepare("SELECT count(*) AS n FROM meters").get() as { n: number }).n === 1,
  );
  const committedAtMs = new Map<number, number>();
  // Splits the latency: the store's batching up to the commit, then the bus and SSE fan-out.
  const stopObserving = fixture.bus.observe((event) => {
    if (event.type === "stored" && event.event.kind === "demand") {
      committedAtMs.set(event.event.demandW ?? 0, wallNowMs());
    }
  });
  const figures = await runFanOut(
    separateProcessClients(`${fixture.url}/graphql`, fixture.ownerCookie, kind),
    (i) => scripted.write(demandFragment(SCRIPTED_METER, (baseS + i) * 1000, i)),
    committedAtMs,
  );
  stopObserving();
  await fixture.close();
  return figures;
}

/**
 * The baseline: a plain `Deno.serve` SSE endpoint enqueuing the same event to every stream, to
 * the same clients in a separate process: what the transport and the clients cost on this machine
 * without the serial line, the store or GraphQL.
 */
async function plainSseFanOut(kind: ClientKind) {
  const encoder = new TextEncoder();
  const streams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => {
    let stream: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        streams.add(stream = controller);
        controller.enqueue(encoder.encode(":\n\n"));
      },
      cancel: () => void streams.delete(stream),
    });
    return new Response(body, { headers: { "Content-Type": "text/event-stream" } });
  });
  const url = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/`;
  const figures = await runFanOut(separateProcessClients(url, "", kind), (i) => {
    const data = JSON.stringify({ data: { demand: { demand: { signedDemandW: i } } } });
    const event = encoder.encode(`event: next\ndata: ${data}\n\n`);
    for (const stream of streams) stream.enqueue(event);
    return Promise.resolve();
  });
  for (const stream of streams) stream.close();
  await server.shutdown();
  return figures;
}

/** Sends `FANOUT_EVENTS` events 100 ms apart once the clients are ready; measures arrivals. */
async function runFanOut(
  clients: FanOutClients,
  send: (value: number) => Promise<void>,
  committedAtMs?: Map<number, number>,
): Promise<FanOutFigures> {
  await clients.ready;
  const sentAtMs = new Map<number, number>();
  for (let i = 1; i <= FANOUT_EVENTS; i++) {
    sentAtMs.set(i, wallNowMs());
    await send(i);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const receivedAtMs = await clients.received;
  const latencies: number[] = [];
  const afterCommit: number[] = [];
  for (const [value, times] of receivedAtMs) {
    const sentMs = sentAtMs.get(value);
    const committedMs = committedAtMs?.get(value);
    for (const atMs of times) {
      if (sentMs !== undefined) latencies.push(atMs - sentMs);
      if (committedMs !== undefined) afterCommit.push(atMs - committedMs);
    }
  }
  return {
    received: latencies.length,
    ...percentiles(latencies),
    max: Math.max(...latencies),
    afterCommit: committedAtMs ? percentiles(afterCommit) : undefined,
  };
}

async function fanOutBenchmarks(): Promise<void> {
  console.log(
    `fan-out: ${SUBSCRIBERS} SSE subscribers in another process × ${FANOUT_EVENTS} events 100 ms ` +
      "apart; for the gateway each event is a fragment written on the pty (aim p99 < 50 ms); " +
      "the baseline is a plain Deno.serve SSE broadcast to the same clients:",
  );
  for (const kind of ["stream", "graphql-sse"] as const) {
    const baseline = await plainSseFanOut(kind);
    const gateway = await gatewayFanOut(kind);
    for (const [name, figures] of [["baseline", baseline], ["gateway", gateway]] as const) {
      const commit = figures.afterCommit
        ? `; commit → received p50 ${fmt(figures.afterCommit.p50, 1)}, p99 ${
          fmt(figures.afterCommit.p99, 1)
        }`
        : "";
      console.log(
        `  ${kind.padEnd(11)} ${name.padEnd(8)} ${figures.received}/${
          SUBSCRIBERS * FANOUT_EVENTS
        } received, p50 ${fmt(figures.p50, 1)} ms, p99 ${fmt(figures.p99, 1)} ms, max ${
          fmt(figures.max, 1)
        } ms` + commit,
      );
    }
  }
}

/** `stream`: a plain streaming POST read as events (what `EventSource` does); or `graphql-sse`. */
type ClientKind = "stream" | "graphql-sse";

interface FanOutClients {
  /** Resolves when every client's subscription is established. */
  ready: Promise<void>;
  /** Wall-clock arrival times by demand value, once every client saw the last event. */
  received: Promise<Map<number, number[]>>;
}

/** `SUBSCRIBERS` clients of one kind in a separate process (see `fanout_clients.ts`). */
function separateProcessClients(url: string, cookie: string, kind: ClientKind): FanOutClients {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-env",
      new URL("./fanout_clients.ts", import.meta.url).pathname,
      url,
      String(SUBSCRIBERS),
      String(FANOUT_EVENTS),
      kind,
    ],
    env: { OPENSEG_BENCH_COOKIE: cookie },
    stdout: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(lineSplitter())
    .getReader();
  const nextLine = async () => {
    const { value, done } = await lines.read();
    if (done) throw new Error("the fan-out client process ended early");
    return value;
  };
  const ready = nextLine().then((line) => {
    if (line !== "ready") throw new Error(`unexpected line from the clients: ${line}`);
  });
  const received = ready.then(nextLine).then(async (line) => {
    await child.status;
    return new Map(
      Object.entries(JSON.parse(line) as Record<string, number[]>).map((
        [value, times],
      ) => [Number(value), times]),
    );
  });
  return { ready, received };
}

function lineSplitter(): TransformStream<string, string> {
  let buffered = "";
  return new TransformStream({
    transform(chunk, controller) {
      const lines = (buffered + chunk).split("\n");
      buffered = lines.pop()!;
      for (const line of lines) controller.enqueue(line);
    },
    flush(controller) {
      if (buffered !== "") controller.enqueue(buffered);
    },
  });
}

// Fan-out first: the gateway under test runs in this process, and the query benchmarks leave a
// large heap behind whose garbage collection would land in the latency tail.
await fanOutBenchmarks();
await queryBenchmarks();
