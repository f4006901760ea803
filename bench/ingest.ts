/**
 * Ingest benchmark: frame + decode + store of a realistic fragment stream, in fragments/s, and its
 * ratio to raw `node:sqlite` batched inserts of the same rows measured in the same run.
 *
 * In each round both sides do the whole stream, interleaved in slices of 5 000 rows (the
 * baseline's transaction; the same share of the stream for ours), which side goes first
 * alternating, so that a change in the load of a shared machine hits both alike. One unmeasured
 * warm-up round comes first. Every round's ratio is printed with the min / median / max over the
 * rounds: the target (issue 12) is ≥ 0.5 in every round, not only the best. Each side is timed by
 * the wall clock and by the process's CPU time (the wall clock also counts time spent waiting for
 * a core); the load average is printed with each round.
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
/** Rows per transaction of the baseline, and so the slices the two sides interleave in. */
const BATCH_ROWS = 5000;

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

/** Times `run` by the wall clock and by CPU time, adding both to `total`. */
function timed(total: Timing, run: () => void): void {
  const cpuStarted = cpuMs();
  const started = performance.now();
  run();
  total.wallMs += performance.now() - started;
  total.cpuMs += cpuMs() - cpuStarted;
}

/** One side of the benchmark, done slice by slice so that the two sides interleave. */
interface Side {
  /** Does slice `k` of `slices` of the work. */
  step(k: number, slices: number): void;
  /** Closes the side; gives the rows it stored. */
  finish(): number;
}

/** Rows in the demand and summation tables of `db`. */
function storedRows(db: DatabaseSync): number {
  return Number(db.prepare("SELECT count(*) AS n FROM demand").get()?.n) +
    Number(db.prepare("SELECT count(*) AS n FROM summation").get()?.n);
}

/** Ours: the gateway's own path from bytes to committed rows, 4 KiB reads at a time. */
function oursSide(stream: Uint8Array, path: string): Side {
  const db = openDatabase(path);
  const writer = new IngestWriter(db, { retentionHours: 24 * 31 });
  const splitter = new FragmentSplitter();
  const scaler = new ProfileScaler();
  const stats = newStats();
  const reads = Math.ceil(stream.length / READ_BYTES);
  return {
    step(k, slices) {
      const last = Math.floor((k + 1) * reads / slices);
      for (let read = Math.floor(k * reads / slices); read < last; read++) {
        const offset = read * READ_BYTES;
        const { events } = decodeChunk(
          splitter,
          stream.subarray(offset, offset + READ_BYTES),
          stats,
          scaler,
        );
        const receivedAtMs = Date.now();
        for (const event of events) writer.add("bench", event, receivedAtMs);
      }
      if (k === slices - 1) writer.close();
    },
    finish() {
      const stored = storedRows(db);
      db.close();
      return stored;
    },
  };
}

/**
 * Baseline: the same rows, already decoded, inserted raw with prepared single-row statements, one
 * transaction per slice of `BATCH_ROWS`.
 */
function rawSide(events: MeterEvent[], path: string): Side {
  const db = new DatabaseSync(path);
  db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
    CREATE TABLE demand (meter TEXT, ts_ms INTEGER, received_ms INTEGER, demand_w REAL,
      PRIMARY KEY (meter, ts_ms)) WITHOUT ROWID;
    CREATE TABLE summation (meter TEXT, ts_ms INTEGER, received_ms INTEGER, delivered_wh REAL,
      received_wh REAL, PRIMARY KEY (meter, ts_ms)) WITHOUT ROWID;`);
  const insertDemand = db.prepare("INSERT INTO demand VALUES (?, ?, ?, ?)");
  const insertSummation = db.prepare("INSERT INTO summation VALUES (?, ?, ?, ?, ?)");
  return {
    step(k, slices) {
      db.exec("BEGIN");
      const receivedAtMs = Date.now();
      const slice = events.slice(
        Math.floor(k * events.length / slices),
        Math.floor((k + 1) * events.length / slices),
      );
      for (const event of slice) {
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
    },
    finish() {
      const stored = storedRows(db);
      db.close();
      return stored;
    },
  };
}

/**
 * One round: both sides over the whole stream, interleaved slice by slice (which goes first
 * alternates), so that both see the same load on a shared machine; gives each side's total time.
 */
function round(
  stream: Uint8Array,
  events: MeterEvent[],
  dir: string,
  name: string,
): { ours: Timing; raw: Timing } {
  const slices = Math.ceil(events.length / BATCH_ROWS);
  const oursRun = oursSide(stream, `${dir}/ours-${name}.db`);
  const rawRun = rawSide(events, `${dir}/raw-${name}.db`);
  const oursTime = { wallMs: 0, cpuMs: 0 };
  const rawTime = { wallMs: 0, cpuMs: 0 };
  for (let k = 0; k < slices; k++) {
    if (k % 2 === 0) {
      timed(oursTime, () => oursRun.step(k, slices));
      timed(rawTime, () => rawRun.step(k, slices));
    } else {
      timed(rawTime, () => rawRun.step(k, slices));
      timed(oursTime, () => oursRun.step(k, slices));
    }
  }
  for (const [side, label] of [[oursRun, "openseg"], [rawRun, "raw"]] as const) {
    const stored = side.finish();
    if (stored !== FRAGMENTS) throw new Error(`${label} stored ${stored} of ${FRAGMENTS}`);
  }
  return { ours: oursTime, raw: rawTime };
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
round(stream, decoded.events, dir, "warm-up");
console.log(
  `ingest benchmark: ${FRAGMENTS} fragments (${stream.length} bytes), ${ROUNDS} rounds, ` +
    `each side in ${Math.ceil(FRAGMENTS / BATCH_ROWS)} interleaved slices; ` +
    `load average ${load()} at the start`,
);
console.log(
  "  round  openseg frag/s (ms)      raw rows/s (ms)          ratio wall  ratio CPU  load",
);
const ours: Timing[] = [];
const raw: Timing[] = [];
for (let n = 0; n < ROUNDS; n++) {
  const timing = round(stream, decoded.events, dir, String(n));
  ours.push(timing.ours);
  raw.push(timing.raw);
  const o = timing.ours;
  const r = timing.raw;
  console.log(
    `  ${String(n + 1).padStart(5)}  ` +
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
