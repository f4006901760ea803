/**
 * Overload benchmark: a real `openseg serve --simulate --backfill-hours 48` process on
 * 127.0.0.1, measured from outside while other processes load it, side by side with an idle
 * baseline of the same process in the same run:
 *
 * - `/health` latency p50/p99 from a steady probe (one request every 20 ms, each on its own clock,
 *   so a stalled gateway shows as slow answers rather than as fewer samples);
 * - the gateway's resident memory (VmRSS, peak of samples during the load) and open descriptors;
 * - both again a minute after each load ended;
 * - the status codes each load got (admission control shows as 429/503).
 *
 * The loads, each for `LOAD_S` seconds from a separate client process (`overload_clients.ts`):
 * 1 000 active GraphQL clients with an app's token, a login flood of wrong passwords, 1 000
 * half-sent requests (slowloris; how many the gateway still holds open over time) and 700 SSE
 * subscription streams. About 7 minutes in all; every loop ends with its window.
 *
 * Run: `deno task bench`, or `bash -c 'ulimit -n 65536; deno run -A bench/overload.ts [load s]
 * [after s] [modes]'` (defaults 25, 60 and all four). `-A`
 * because Deno lets only `--allow-all` read `/proc/<pid>`; the client processes get
 * `--allow-net=127.0.0.1` only. 1 000 connections need more than the common 1 024 descriptors
 * per process: the benchmark stops and says so when the limit is lower.
 *
 * @module
 */

import {
  appAccessToken,
  BENCH_OWNER_PASSWORD,
  ownerCookie,
  startBenchGateway,
} from "./app_token.ts";
import { memoryMb, openFds, sleep, waitUntilLive, waitUntilServing } from "./gateway_process.ts";

/** Seconds each load runs (first argument; 25 by default). */
const LOAD_S = Number(Deno.args[0] ?? 25);
const IDLE_S = 15;
/** When the "after" figures are taken, counted from the end of a load (second argument). */
const AFTER_S = Number(Deno.args[1] ?? 60);
/** The "after" probe runs over the last seconds before `AFTER_S`. */
const AFTER_PROBE_S = Math.min(10, AFTER_S / 2);
const PROBE_EVERY_MS = 20;
const PROBE_TIMEOUT_MS = 10_000;
/** The simulated meter replays 48 h fast; the baseline waits until its demand is this recent. */
const LIVE_WITHIN_MS = 30_000;
/** Descriptors a process needs for 1 000 sockets and its own files. */
const MIN_OPEN_FILES = 2_500;
const CLIENTS = new URL("./overload_clients.ts", import.meta.url).pathname;

interface Load {
  name: string;
  mode: "graphql" | "login" | "half-sent" | "sse";
  clients: number;
}

const ALL_LOADS: Load[] = [
  { name: "1000 GraphQL clients", mode: "graphql", clients: 1000 },
  { name: "login flood (200)", mode: "login", clients: 200 },
  { name: "1000 half-sent requests", mode: "half-sent", clients: 1000 },
  { name: "700 SSE streams", mode: "sse", clients: 700 },
];
/** The loads to run (third argument, comma-separated modes, e.g. `graphql`; all by default). */
const LOADS = Deno.args[2] === undefined
  ? ALL_LOADS
  : ALL_LOADS.filter((load) => Deno.args[2].split(",").includes(load.mode));

/** Latency figures of one probe window, ms. */
interface ProbeFigures {
  p50: number;
  p99: number;
  samples: number;
  /** Probes that failed, timed out or did not answer 200. */
  failed: number;
}

/** Probes `/health` every `PROBE_EVERY_MS` until stopped. */
function startProbe(url: string): { stop(): Promise<ProbeFigures> } {
  const latencies: number[] = [];
  const inFlight = new Set<Promise<void>>();
  let failed = 0;
  const probeOnce = async () => {
    const startMs = performance.now();
    try {
      const response = await fetch(`${url}/health`, {
        signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
      });
      await response.body?.cancel();
      if (response.status !== 200) failed++;
    } catch {
      failed++;
    }
    // A failure counts with the time it took, so a timeout weighs as what it is.
    latencies.push(performance.now() - startMs);
  };
  const timer = setInterval(() => {
    const probe = probeOnce();
    inFlight.add(probe);
    probe.finally(() => inFlight.delete(probe));
  }, PROBE_EVERY_MS);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(inFlight);
      const sorted = latencies.sort((a, b) => a - b);
      const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
      return { p50: at(0.5), p99: at(0.99), samples: sorted.length, failed };
    },
  };
}

/** Samples the gateway's RSS and descriptors every 250 ms; the peaks when stopped. */
function startSampler(pid: number): { stop(): { rssMb: number; fds: number } } {
  let rssMb = 0;
  let fds = 0;
  const sample = () => {
    try {
      rssMb = Math.max(rssMb, memoryMb(pid).rssMb);
      fds = Math.max(fds, openFds(pid));
    } catch {
      // The process is gone; the caller notices.
    }
  };
  sample();
  const timer = setInterval(sample, 250);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { rssMb, fds };
    },
  };
}

/** Runs one load in its own process; its JSON summary (status mix and details). */
async function runClients(
  url: string,
  token: string,
  load: Load,
): Promise<Record<string, unknown>> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-env=OPENSEG_BENCH_TOKEN",
      CLIENTS,
      load.mode,
      url,
      String(load.clients),
      String(LOAD_S),
    ],
    env: { OPENSEG_BENCH_TOKEN: token },
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  // Bounded even if the client process hangs.
  const killer = setTimeout(() => child.kill("SIGKILL"), (LOAD_S + 30) * 1000);
  const { stdout, code } = await child.output();
  clearTimeout(killer);
  const lines = new TextDecoder().decode(stdout).trim().split("\n");
  if (code !== 0) return { statuses: { "client process failed": code } };
  return JSON.parse(lines[lines.length - 1]);
}

/** One row of the final table. */
interface Row {
  name: string;
  during: ProbeFigures;
  /** RSS when the load started: what the previous load left behind. */
  rssStartMb: number;
  rssDuringMb: number;
  fdsDuring: number;
  after: ProbeFigures | null;
  rssAfterMb: number | null;
  /** V8's heap in use then (`/metrics`): what of the "after" RSS is JavaScript objects. */
  heapAfterMb: number | null;
  summary: Record<string, unknown> | null;
}

/** The 1-minute load average: other work on the machine skews every figure. */
function loadAverage(): string {
  return Deno.readTextFileSync("/proc/loadavg").split(" ")[0];
}

/** The soft limit on open files of this process (children inherit it). */
function openFilesLimit(): number {
  const limits = Deno.readTextFileSync("/proc/self/limits");
  const soft = limits.match(/Max open files\s+(\S+)/)?.[1] ?? "0";
  return soft === "unlimited" ? Infinity : Number(soft);
}

const limit = openFilesLimit();
if (limit < MIN_OPEN_FILES) {
  console.error(
    `overload benchmark: this process may open only ${limit} files; 1000 connections need ` +
      `${MIN_OPEN_FILES}. Run it as \`bash -c 'ulimit -n 65536; deno run -A bench/overload.ts'\` ` +
      "(what `deno task bench` does), or raise the hard limit (`ulimit -Hn`) first.",
  );
  Deno.exit(1);
}

const { dir, app, url, gateway } = await startBenchGateway("openseg-overload-");
let exitedWith: Deno.CommandStatus | null = null;
gateway.status.then((status) => exitedWith = status);
/** How the gateway ended on its own before the benchmark stopped it, if it did. */
let crashed: Deno.CommandStatus | null = null;
const rows: Row[] = [];
try {
  await waitUntilServing(`${url}/health`, gateway);
  const token = await appAccessToken(url, app, await ownerCookie(url, BENCH_OWNER_PASSWORD));
  await waitUntilLive(url, token, { liveWithinMs: LIVE_WITHIN_MS, timeoutMs: 120_000 });
  console.log(
    `overload benchmark: gateway pid ${gateway.pid} on ${url}, 1 simulated meter (48 h ` +
      `backfilled), open files ${limit}, load average ${loadAverage()}; loads of ${LOAD_S} s, "after" = ${
        AFTER_S - AFTER_PROBE_S
      }–${AFTER_S} s after a load; /health probed every ${PROBE_EVERY_MS} ms`,
  );

  const idleSampler = startSampler(gateway.pid);
  const idleProbe = startProbe(url);
  await sleep(IDLE_S * 1000);
  const idle = idleSampler.stop();
  rows.push({
    name: "idle (baseline)",
    during: await idleProbe.stop(),
    rssStartMb: idle.rssMb,
    rssDuringMb: idle.rssMb,
    fdsDuring: idle.fds,
    after: null,
    rssAfterMb: null,
    heapAfterMb: null,
    summary: null,
  });

  for (const load of LOADS) {
    if (exitedWith !== null) break;
    console.log(`  ${load.name}…`);
    const rssStartMb = memoryMb(gateway.pid).rssMb;
    const sampler = startSampler(gateway.pid);
    const probe = startProbe(url);
    const summary = await runClients(url, token, load);
    const during = await probe.stop();
    const peak = sampler.stop();
    const row: Row = {
      name: load.name,
      during,
      rssStartMb,
      rssDuringMb: peak.rssMb,
      fdsDuring: peak.fds,
      after: null,
      rssAfterMb: null,
      heapAfterMb: null,
      summary,
    };
    rows.push(row);
    if (exitedWith !== null) break;
    await sleep((AFTER_S - AFTER_PROBE_S) * 1000);
    const afterProbe = startProbe(url);
    await sleep(AFTER_PROBE_S * 1000);
    row.after = await afterProbe.stop();
    if (exitedWith === null) {
      row.rssAfterMb = memoryMb(gateway.pid).rssMb;
      row.heapAfterMb = await heapUsedMb(url);
    }
  }
} finally {
  crashed = exitedWith;
  if (exitedWith === null) {
    gateway.kill("SIGTERM");
    const killer = setTimeout(() => gateway.kill("SIGKILL"), 10_000);
    await gateway.status;
    clearTimeout(killer);
  }
  await Deno.remove(dir, { recursive: true });
}

console.log(
  `machine load average at the end: ${loadAverage()} (${navigator.hardwareConcurrency} cores)`,
);
const ms = (value: number) => value < 10 ? value.toFixed(1) : value.toFixed(0);
const latency = (figures: ProbeFigures | null) =>
  figures === null
    ? "-"
    : `${ms(figures.p50)} / ${ms(figures.p99)}${
      figures.failed ? ` (${figures.failed} failed)` : ""
    }`;
/** `openseg_js_heap_used_bytes` from the gateway's `/metrics`, in MB. */
async function heapUsedMb(url: string): Promise<number | null> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const bytes = text.match(/^openseg_js_heap_used_bytes (\d+)/m)?.[1];
  return bytes === undefined ? null : Number(bytes) / 1048576;
}

const mb = (value: number | null) => value === null ? "-" : value.toFixed(0);
console.log(
  `\n${"load".padEnd(24)} ${"/health p50/p99 ms".padEnd(22)} ${`after ${AFTER_S} s`.padEnd(18)} ` +
    `${"RSS MB start/peak/after".padEnd(24)} ${"V8 heap after".padEnd(14)} fds`,
);
for (const row of rows) {
  console.log(
    `${row.name.padEnd(24)} ${latency(row.during).padEnd(22)} ${latency(row.after).padEnd(18)} ` +
      `${`${mb(row.rssStartMb)} / ${mb(row.rssDuringMb)} / ${mb(row.rssAfterMb)}`.padEnd(24)} ` +
      `${mb(row.heapAfterMb).padEnd(14)} ${row.fdsDuring}`,
  );
}
console.log("answers each load got:");
for (const row of rows) {
  if (row.summary === null) continue;
  const { statuses, ...details } = row.summary;
  const mix = Object.entries(statuses as Record<string, number>).map(([status, n]) =>
    `${status}: ${n}`
  ).join(", ");
  const extra = Object.keys(details).length ? `; ${JSON.stringify(details)}` : "";
  console.log(`  ${row.name.padEnd(24)} ${mix || "none"}${extra}`);
}
if (crashed !== null) {
  console.log(`the gateway exited during the benchmark (${JSON.stringify(crashed)})`);
  Deno.exit(1);
}
