/**
 * The gateway under an external load generator: Debian's `wrk` against a real `openseg serve
 * --simulate --backfill-hours 48` process and against a plain `Deno.serve` process returning the
 * same bytes (`plain_server.ts`), same connections, rounds alternated. A load generator in this
 * process (concurrent `fetch`) caps the plain server at a few thousand req/s and so measures its
 * own client; `wrk` is checked first to drive the plain server at tens of thousands.
 *
 * Cases: the small GraphQL query with an app token; the 48-hour demand series in 15-minute
 * buckets; the ESPI 48-hour `Batch/Subscription` feed, gzip asked (p50 at 1 connection, feeds/s
 * at 10). The gateway's RSS is read from `/proc/<pid>/status` of the same process that filled the
 * ring and served the load: at rest before, the highest seen during each load, and a minute after.
 *
 * Run: `npx deno task bench`, or `deno run -A bench/http_load.ts [seconds per run] [rounds]`
 * (`-A`: Deno grants `/proc/<pid>` only to `--allow-all`). Needs `wrk` (`apt-get install wrk`).
 *
 * @module
 */

import { appGrant, BENCH_OWNER_PASSWORD, ownerCookie, startBenchGateway } from "./app_token.ts";
import { memoryMb, sleep, waitUntilLive, waitUntilServing } from "./gateway_process.ts";
import type { PlainResponse } from "./plain_server.ts";

const RUN_S = Number(Deno.args[0] ?? 5);
const ROUNDS = Math.max(3, Number(Deno.args[1] ?? 3));
const CONNECTIONS = 10;
/** Below this the baseline, not the gateway, would bound the ratios. */
const MIN_PLAIN_RPS = 20_000;
const HOUR_MS = 3_600_000;
/** The simulated meter counts as caught up when its latest demand is this recent. */
const LIVE_WITHIN_MS = 60_000;
const AFTER_MS = 60_000;

/** One request shape, as wrk sends it. */
interface Case {
  name: string;
  method: "GET" | "POST";
  path: string;
  /** Where the plain server answers it, when `path` is shared with another case. */
  plainPath?: string;
  headers: Record<string, string>;
  body?: string;
  /** Send `If-None-Match` with the last ETag this connection's thread was given, as apps poll. */
  revalidate?: boolean;
  /** Give every request its own `max-results` (above any entry count), so none is served again. */
  distinctQuery?: boolean;
}

/** What one wrk run reports (from the Lua `done` hook). */
interface WrkResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Socket errors plus answers outside 2xx/3xx: any of these makes the run void. */
  errors: number;
}

async function hasWrk(): Promise<boolean> {
  try {
    return (await new Deno.Command("wrk", { args: ["--version"], stdout: "null", stderr: "null" })
      .output()).code <= 1;
  } catch {
    return false;
  }
}

/** The Lua script giving wrk the request and making it print its figures as JSON. */
function wrkScript(request: Case): string {
  const headers = Object.entries(request.headers)
    .map(([name, value]) => `wrk.headers[${JSON.stringify(name)}] = ${JSON.stringify(value)}`)
    .join("\n");
  const body = request.body === undefined ? "" : `wrk.body = ${JSON.stringify(request.body)}`;
  // The tag changes with every stored reading (every 8 s): each thread keeps the newest it saw.
  const hooks = request.revalidate
    ? `local etag = nil
request = function()
  if etag then wrk.headers["If-None-Match"] = etag end
  return wrk.format()
end
response = function(status, headers, body)
  etag = headers["etag"] or headers["ETag"] or etag
end`
    : request.distinctQuery
    ? `local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, wrk.path .. "?max-results=" .. (1000000 + n))
end`
    : "";
  return `wrk.method = "${request.method}"
${body}
${headers}
${hooks}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"durationUs":%d,"errors":%d,"p50Us":%d,"p99Us":%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout + e.status,
    latency:percentile(50), latency:percentile(99)))
end
`;
}

/** `wrk` with `connections` connections for `RUN_S` seconds; samples `pid`'s RSS meanwhile. */
async function wrk(
  dir: string,
  baseUrl: string,
  request: Case,
  connections: number,
  pid: number,
): Promise<WrkResult & { peakRssMb: number }> {
  const script = `${dir}/${request.name.replace(/\W+/g, "_")}.lua`;
  await Deno.writeTextFile(script, wrkScript(request));
  const child = new Deno.Command("wrk", {
    args: [
      "-t",
      String(Math.min(2, connections)),
      "-c",
      String(connections),
      "-d",
      `${RUN_S}s`,
      "-s",
      script,
      `${baseUrl}${request.path}`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let peakRssMb = 0;
  let running = true;
  const sampling = (async () => {
    while (running) {
      peakRssMb = Math.max(peakRssMb, memoryMb(pid).rssMb);
      await sleep(200);
    }
  })();
  const output = await child.output();
  running = false;
  await sampling;
  const text = new TextDecoder().decode(output.stdout);
  const line = text.split("\n").find((candidate) => candidate.startsWith("{"));
  if (!output.success || line === undefined) {
    throw new Error(`wrk failed: ${text}${new TextDecoder().decode(output.stderr)}`);
  }
  const figures = JSON.parse(line);
  return {
    rps: figures.requests / (figures.durationUs / 1e6),
    p50Ms: figures.p50Us / 1000,
    p99Ms: figures.p99Us / 1000,
    errors: figures.errors,
    peakRssMb,
  };
}

/** The response's body bytes as the wire carries them (gzipped again when it came gzipped). */
async function recordedBytes(response: Response): Promise<Uint8Array> {
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (response.headers.get("content-encoding") !== "gzip") return bytes;
  // fetch has decoded it; the plain server sends the same document gzipped.
  return new Uint8Array(
    await new Response(
      ReadableStream.from([bytes]).pipeThrough(new CompressionStream("gzip")),
    ).arrayBuffer(),
  );
}

/** Records each case's answer from the gateway for the plain server; checks it is a 200. */
async function recordAnswers(dir: string, url: string, cases: Case[]): Promise<PlainResponse[]> {
  const manifest: PlainResponse[] = [];
  for (const request of cases) {
    const response = await fetch(`${url}${request.path}`, {
      method: request.method,
      headers: request.headers,
      body: request.body,
    });
    if (response.status !== 200) {
      throw new Error(`${request.name}: ${response.status} ${await response.text()}`);
    }
    const file = `${dir}/${request.name.replace(/\W+/g, "_")}.body`;
    const bytes = await recordedBytes(response);
    await Deno.writeFile(file, bytes);
    const headers: Record<string, string> = {};
    for (const name of ["content-type", "content-encoding", "vary", "etag"]) {
      const value = response.headers.get(name);
      if (value !== null) headers[name] = value;
    }
    manifest.push({ path: request.plainPath ?? request.path, file, headers });
    console.log(
      `  ${request.name}: ${(bytes.byteLength / 1024).toFixed(1)} KB on the wire` +
        (headers["content-encoding"] ? ` (${headers["content-encoding"]})` : ""),
    );
  }
  return manifest;
}

/** Starts `plain_server.ts` on `manifestPath`; resolves with its process and URL. */
async function startPlain(manifestPath: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-net=127.0.0.1",
      new URL("./plain_server.ts", import.meta.url).pathname,
      manifestPath,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const { value } = await reader.read();
  const port = value?.match(/listening (\d+)/)?.[1];
  if (port === undefined) throw new Error(`the plain server said: ${value}`);
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  return { child, url: `http://127.0.0.1:${port}` };
}

const stats = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { min: sorted[0], median: sorted[Math.floor(sorted.length / 2)], max: sorted.at(-1)! };
};
const fmt = (value: number, digits = 0) =>
  value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const range = (values: number[], digits = 0) => {
  const { min, median, max } = stats(values);
  return `${fmt(min, digits)} / ${fmt(median, digits)} / ${fmt(max, digits)}`;
};

/** One row of the table: a case at a number of connections, every round of both servers. */
interface Row {
  name: string;
  connections: number;
  plain: WrkResult[];
  gateway: (WrkResult & { peakRssMb: number })[];
}

function printRow(row: Row): void {
  const ratios = row.gateway.map((result, i) => result.rps / row.plain[i].rps);
  const errors = [...row.plain, ...row.gateway].reduce((sum, result) => sum + result.errors, 0);
  console.log(
    `| ${row.name} | ${row.connections} | ${range(row.plain.map((r) => r.rps))} | ${
      range(row.gateway.map((r) => r.rps))
    } | ${range(ratios, 3)}× | ${range(row.gateway.map((r) => r.p50Ms), 1)} | ${
      range(row.gateway.map((r) => r.p99Ms), 1)
    } | ${range(row.gateway.map((r) => r.peakRssMb))} |${errors > 0 ? ` ${errors} errors!` : ""}`,
  );
}

if (!await hasWrk()) {
  console.error("http_load benchmark: `wrk` is missing; install it with `apt-get install wrk`");
  Deno.exit(2);
}

const { dir, app, url, gateway } = await startBenchGateway("openseg-http-load-");
let plain: Deno.ChildProcess | undefined;
try {
  const fillStartedMs = performance.now();
  await waitUntilServing(`${url}/health`, gateway);
  const grant = await appGrant(url, app, await ownerCookie(url, BENCH_OWNER_PASSWORD));
  const token = grant.accessToken;
  await waitUntilLive(url, token, { liveWithinMs: LIVE_WITHIN_MS, timeoutMs: 300_000 });
  const fillS = (performance.now() - fillStartedMs) / 1000;
  const nowMs = Date.now();
  const bearer = { Authorization: `Bearer ${token}` };
  // fetch asks for gzip unless told otherwise; wrk sends only what the case says.
  const json = { ...bearer, "Content-Type": "application/json", "Accept-Encoding": "identity" };
  const seriesQuery = `{ meters { id demandSeries(from: "${
    new Date(nowMs - 47.5 * HOUR_MS).toISOString()
  }", to: "${
    new Date(nowMs).toISOString()
  }", bucket: FIFTEEN_MINUTES) { start avgW minW maxW } } }`;
  const small: Case = {
    name: "small GraphQL query",
    method: "POST",
    path: "/graphql",
    headers: json,
    body: JSON.stringify({ query: "{ meters { id demand { demandW } } }" }),
  };
  const series: Case = {
    name: "48 h series, 15-min buckets",
    method: "POST",
    path: "/graphql",
    plainPath: "/graphql/series",
    headers: json,
    body: JSON.stringify({ query: seriesQuery }),
  };
  const espi: Case = {
    name: "ESPI 48 h Batch/Subscription, gzip",
    method: "GET",
    path: new URL(grant.resourceUri).pathname,
    headers: { ...bearer, "Accept-Encoding": "gzip" },
  };
  const built: Case = {
    ...espi,
    name: "ESPI feed built for each request",
    distinctQuery: true,
  };
  const revalidation: Case = {
    ...espi,
    name: "ESPI feed revalidated (If-None-Match)",
    revalidate: true,
  };

  console.log(
    `http_load: wrk, ${CONNECTIONS} connections (1 for the ESPI latency), ${RUN_S} s runs, ` +
      `${ROUNDS} rounds alternated (plain first, then the gateway); gateway pid ${gateway.pid}, ` +
      `1 simulated meter, ring of 48 h backfilled in ${fmt(fillS)} s by this same process; ` +
      `load average ${Deno.readTextFileSync("/proc/loadavg").split(" ")[0]}`,
  );
  console.log("recorded answers (the plain server sends these bytes):");
  const manifest = await recordAnswers(dir, url, [small, series, espi]);
  const manifestPath = `${dir}/manifest.json`;
  await Deno.writeTextFile(manifestPath, JSON.stringify(manifest));
  const started = await startPlain(manifestPath);
  plain = started.child;

  await sleep(5000);
  const restMb = memoryMb(gateway.pid).rssMb;
  const plainRestMb = memoryMb(plain.pid).rssMb;

  // Not client-bound: wrk drives the plain server at tens of thousands of req/s.
  const check = await wrk(dir, started.url, small, CONNECTIONS, plain.pid);
  console.log(
    `baseline check: plain Deno.serve, small query bytes, ${CONNECTIONS} connections: ` +
      `${fmt(check.rps)} req/s (p99 ${fmt(check.p99Ms, 2)} ms) — ${
        check.rps >= MIN_PLAIN_RPS
          ? "the load generator is not the limit"
          : `BELOW ${fmt(MIN_PLAIN_RPS)} req/s: wrk or the machine bounds this run`
      }`,
  );

  const rows: Row[] = [
    { name: small.name, connections: CONNECTIONS, plain: [], gateway: [] },
    { name: series.name, connections: CONNECTIONS, plain: [], gateway: [] },
    { name: espi.name, connections: 1, plain: [], gateway: [] },
    { name: espi.name, connections: CONNECTIONS, plain: [], gateway: [] },
    { name: built.name, connections: 1, plain: [], gateway: [] },
    { name: revalidation.name, connections: CONNECTIONS, plain: [], gateway: [] },
  ];
  const requests = [small, series, espi, espi, built, revalidation];
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, row] of rows.entries()) {
      const request = requests[i];
      const plainRequest = { ...request, path: request.plainPath ?? request.path };
      row.plain.push(await wrk(dir, started.url, plainRequest, row.connections, plain.pid));
      row.gateway.push(await wrk(dir, url, request, row.connections, gateway.pid));
    }
  }
  const endMb = memoryMb(gateway.pid);
  await sleep(AFTER_MS);
  const afterMb = memoryMb(gateway.pid).rssMb;

  console.log(
    "\n| case | conns | plain req/s (min / median / max) | openseg req/s | ratio | " +
      "openseg p50 ms | openseg p99 ms | openseg RSS during, MB |",
  );
  console.log("|---|---|---|---|---|---|---|---|");
  for (const row of rows) printRow(row);
  console.log(
    `\ngateway RSS: ${fmt(restMb, 1)} MB at rest on the full ring before the loads, ` +
      `${fmt(endMb.rssMb, 1)} MB when they ended (peak VmHWM ${fmt(endMb.peakMb, 1)} MB, ` +
      `the backfill included), ${fmt(afterMb, 1)} MB a minute after; ` +
      `plain server ${fmt(plainRestMb, 1)} MB at rest`,
  );
  const [smallRow, seriesRow, espiOne, espiTen] = rows;
  const medianRatio = (row: Row) => stats(row.gateway.map((r, i) => r.rps / row.plain[i].rps));
  const verdict = (met: boolean) => met ? "met" : "NOT met";
  console.log(
    `targets (median of rounds): small query ≥ 0.15× → ${fmt(medianRatio(smallRow).median, 3)}× ${
      verdict(medianRatio(smallRow).median >= 0.15)
    }; series ≥ 0.3× → ${fmt(medianRatio(seriesRow).median, 3)}× ${
      verdict(medianRatio(seriesRow).median >= 0.3)
    }; ESPI p50 < 5 ms at 1 connection → ${
      fmt(stats(espiOne.gateway.map((r) => r.p50Ms)).median, 1)
    } ms ${verdict(stats(espiOne.gateway.map((r) => r.p50Ms)).median < 5)}; ESPI ≥ 300 feeds/s ` +
      `at ${CONNECTIONS} → ${fmt(stats(espiTen.gateway.map((r) => r.rps)).median)} ${
        verdict(stats(espiTen.gateway.map((r) => r.rps)).median >= 300)
      }`,
  );
} finally {
  plain?.kill("SIGTERM");
  await plain?.status;
  gateway.kill("SIGTERM");
  await gateway.status;
  await Deno.remove(dir, { recursive: true });
}
