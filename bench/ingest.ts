/**
 * Ingest benchmark: frame + decode + store of a realistic fragment stream, in fragments/s, and its
 * ratio to raw `node:sqlite` batched inserts of the same rows measured in the same run.
 *
 * Rounds alternate the two (ours then raw, raw then ours, ...), after one unmeasured warm-up of
 * each, and every round's ratio is printed with the min / median / max over the rounds: the
 * target (issue 12) is ≥ 0.5 in every round, not only the best. Each round is timed by the wall
 * clock and by the process's CPU time; on a shared machine the wall clock also counts the time the
 * process waited for a core, which lands on whichever side was running, so the CPU-time ratio is
 * the steadier of the two. The load average is printed with each round.
 *
 * Run: `npx deno task bench` (or `deno run -A bench/ingest.ts [fragments] [rounds]`).
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import process from "node:process";
import { decodeChunk } from "../src/radio/raven/adapter.ts";
import type { RadioStats } from "../src/radio/adapter.ts";
import type { MeterEvent } from "../src/radio/events.ts";
import { FragmentSplitter } from "../src/radio/raven/framing.ts";
import { ProfileScaler } from "../src/radio/raven/profile_scale.ts";
import { openDatabase } from "../src/store/db.ts";
import { IngestWriter } from "../src/store/ingest.ts";
import { buildStream } from "./stream.ts";

const FRAGMENTS = Number(Deno.args[0] ?? 100_000);
const ROUNDS = Number(Deno.args[1] ?? 7);
/** Issue 12's target for the ratio, in every round. */
const TARGET_RATIO = 0.5;
/** A pty read returns about 4 KiB at a time. */
const READ_BYTES = 4096;

function newStats(): RadioStats {
  return {
    bytesRead: 0,
    fragments: 0,
    decodeErrors: 0,
    fieldWarnings: 0,
    unknownFragments: 0,
    droppedBytes: 0,
    overflows: 0,
  };
}

/** Wall-clock and CPU time of one run, in ms. */
interface Timing {
  wallMs: number;
  cpuMs: number;
}

/** CPU time of this process so far (user + system), in ms. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Times `run` by the wall clock and by CPU time. */
function timed(run: () => void): Timing {
  const cpuStarted = cpuMs();
  const started = performance.now();
  run();
  return { wallMs: performance.now() - started, cpuMs: cpuMs() - cpuStarted };
}

/** Ours: the gateway's own path from bytes to committed rows; gives the rows stored. */
function runOurs(stream: Uint8Array, path: string): Timing {
  const db = openDatabase(path);
  const writer = new IngestWriter(db, { retentionHours: 24 * 31 });
  const splitter = new FragmentSplitter();
  const scaler = new ProfileScaler();
  const stats = newStats();
  const timing = timed(() => {
    for (let offset = 0; offset < stream.length; offset += READ_BYTES) {
      const { events } = decodeChunk(
        splitter,
        stream.subarray(offset, offset + READ_BYTES),
        stats,
        scaler,
      );
      const receivedAtMs = Date.now();
      for (const event of events) writer.add("bench", event, receivedAtMs);
    }
    writer.close();
  });
  const stored = Number(db.prepare("SELECT count(*) AS n FROM demand").get()?.n) +
    Number(db.prepare("SELECT count(*) AS n FROM summation").get()?.n);
  db.close();
  if (stored !== FRAGMENTS) throw new Error(`stored ${stored} of ${FRAGMENTS}`);
  return timing;
}

/** Baseline: the same rows, already decoded, inserted raw in batches of 5 000. */
function runBaseline(events: MeterEvent[], path: string): Timing {
  const db = new DatabaseSync(path);
  db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
    CREATE TABLE demand (meter TEXT, ts_ms INTEGER, received_ms INTEGER, demand_w REAL,
      PRIMARY KEY (meter, ts_ms)) WITHOUT ROWID;
    CREATE TABLE summation (meter TEXT, ts_ms INTEGER, received_ms INTEGER, delivered_wh REAL,
      received_wh REAL, PRIMARY KEY (meter, ts_ms)) WITHOUT ROWID;`);
  const insertDemand = db.prepare("INSERT INTO demand VALUES (?, ?, ?, ?)");
  const insertSummation = db.prepare("INSERT INTO summation VALUES (?, ?, ?, ?, ?)");
  const timing = timed(() => {
    for (let start = 0; start < events.length; start += 5000) {
      db.exec("BEGIN");
      const receivedAtMs = Date.now();
      for (const event of events.slice(start, start + 5000)) {
        if (event.kind === "demand") {
          insertDemand.run(event.meter, event.timeMs, receivedAtMs, event.demandW);
        } else if (event.kind === "summation") {
          insertSummation.run(
            event.meter,
            event.timeMs,
            receivedAtMs,
            event.summationDeliveredWh,
            event.summationReceivedWh,
          );
        }
      }
      db.exec("COMMIT");
    }
  });
  const stored = Number(db.prepare("SELECT count(*) AS n FROM demand").get()?.n) +
    Number(db.prepare("SELECT count(*) AS n FROM summation").get()?.n);
  db.close();
  if (stored !== FRAGMENTS) throw new Error(`raw stored ${stored} of ${FRAGMENTS}`);
  return timing;
}

/** Min / median / max of `values`. */
function spread(values: number[]): [number, number, number] {
  const sorted = [...values].sort((a, b) => a - b);
  return [sorted[0], sorted[Math.floor(sorted.length / 2)], sorted[sorted.length - 1]];
}

/** Fragments (or rows) per second over `ms`. */
function rate(ms: number): string {
  return Math.round(FRAGMENTS / (ms / 1000)).toLocaleString("en");
}

/** One-minute load average from `uptime`, for judging a round on a shared machine. */
function load(): string {
  try {
    const output = new Deno.Command("uptime", { stdout: "piped", stderr: "null" }).outputSync();
    const text = new TextDecoder().decode(output.stdout);
    return text.match(/load averages?: ([\d.]+)/)?.[1] ?? "?";
  } catch {
    return "?";
  }
}

const stream = buildStream(FRAGMENTS);
const decoded = decodeChunk(
  new FragmentSplitter({ maxBufferBytes: 8192 }),
  stream,
  newStats(),
  new ProfileScaler(),
);
if (decoded.events.length !== FRAGMENTS) {
  throw new Error(`decoded ${decoded.events.length} of ${FRAGMENTS} fragments`);
}
const dir = await Deno.makeTempDir({ prefix: "openseg-bench-" });
// Warm-up, not counted: both sides compiled and their first database files made.
runOurs(stream, `${dir}/ours-warm.db`);
runBaseline(decoded.events, `${dir}/raw-warm.db`);
console.log(
  `ingest benchmark: ${FRAGMENTS} fragments (${stream.length} bytes), ${ROUNDS} rounds ` +
    `alternated, load average ${load()} at the start`,
);
console.log(
  "  round  first  openseg frag/s (ms)      raw rows/s (ms)          ratio wall  ratio CPU  load",
);
const ours: Timing[] = [];
const raw: Timing[] = [];
for (let round = 0; round < ROUNDS; round++) {
  // Alternate which side goes first, so a drift in the machine's load favours neither.
  if (round % 2 === 0) {
    ours.push(runOurs(stream, `${dir}/ours-${round}.db`));
    raw.push(runBaseline(decoded.events, `${dir}/raw-${round}.db`));
  } else {
    raw.push(runBaseline(decoded.events, `${dir}/raw-${round}.db`));
    ours.push(runOurs(stream, `${dir}/ours-${round}.db`));
  }
  const o = ours[round];
  const r = raw[round];
  console.log(
    `  ${String(round + 1).padStart(5)}  ${round % 2 === 0 ? "ours " : "raw  "}  ` +
      `${`${rate(o.wallMs)} (${o.wallMs.toFixed(0)})`.padEnd(23)}  ` +
      `${`${rate(r.wallMs)} (${r.wallMs.toFixed(0)})`.padEnd(23)}  ` +
      `${(r.wallMs / o.wallMs).toFixed(2).padStart(10)}  ${
        (r.cpuMs / o.cpuMs).toFixed(2).padStart(9)
      }` +
      `  ${load()}`,
  );
}
await Deno.remove(dir, { recursive: true });

const wallRatios = ours.map((o, i) => raw[i].wallMs / o.wallMs);
const cpuRatios = ours.map((o, i) => raw[i].cpuMs / o.cpuMs);
const show = (values: number[], format: (v: number) => string) =>
  spread(values).map(format).join(" / ");
console.log("  min / median / max over the rounds:");
console.log(
  `    openseg frame+decode+store  ${
    show(ours.map((o) => -o.wallMs), (v) => rate(-v))
  } fragments/s`,
);
console.log(
  `    raw node:sqlite inserts     ${show(raw.map((r) => -r.wallMs), (v) => rate(-v))} rows/s`,
);
console.log(`    ratio (wall clock)          ${show(wallRatios, (v) => v.toFixed(2))}`);
console.log(`    ratio (CPU time)            ${show(cpuRatios, (v) => v.toFixed(2))}`);
const met = (values: number[]) =>
  values.every((v) => v >= TARGET_RATIO)
    ? "met in every round"
    : `missed in ${values.filter((v) => v < TARGET_RATIO).length} of ${values.length} rounds`;
console.log(
  `  target ≥ ${TARGET_RATIO} in every round: wall clock ${met(wallRatios)}; ` +
    `CPU time ${met(cpuRatios)}`,
);
