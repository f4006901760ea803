/**
 * Ingest benchmark: frame + decode + store of a realistic fragment stream, in fragments/s, and its
 * ratio to raw `node:sqlite` batched inserts of the same rows measured in the same run.
 *
 * Run: `npx deno task bench` (or `deno run -A bench/ingest.ts [fragments]`).
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { decodeChunk } from "../src/radio/raven/adapter.ts";
import type { RadioStats } from "../src/radio/adapter.ts";
import type { MeterEvent } from "../src/radio/events.ts";
import { FragmentSplitter } from "../src/radio/raven/framing.ts";
import { ProfileScaler } from "../src/radio/raven/profile_scale.ts";
import { openDatabase } from "../src/store/db.ts";
import { IngestWriter } from "../src/store/ingest.ts";
import { buildStream } from "./stream.ts";

const FRAGMENTS = Number(Deno.args[0] ?? 100_000);
const ROUNDS = 3;
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

/** Ours: the gateway's own path from bytes to committed rows. */
function runOurs(stream: Uint8Array, path: string): { ms: number; stored: number } {
  const db = openDatabase(path);
  const writer = new IngestWriter(db, { retentionHours: 24 * 31 });
  const splitter = new FragmentSplitter();
  const scaler = new ProfileScaler();
  const stats = newStats();
  const started = performance.now();
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
  const ms = performance.now() - started;
  const stored = Number(db.prepare("SELECT count(*) AS n FROM demand").get()?.n) +
    Number(db.prepare("SELECT count(*) AS n FROM summation").get()?.n);
  db.close();
  return { ms, stored };
}

/** Baseline: the same rows, already decoded, inserted raw in batches of 5 000. */
function runBaseline(events: MeterEvent[], path: string): number {
  const db = new DatabaseSync(path);
  db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
    CREATE TABLE demand (meter TEXT, ts_ms INTEGER, received_ms INTEGER, demand_w REAL,
      PRIMARY KEY (meter, ts_ms)) WITHOUT ROWID;
    CREATE TABLE summation (meter TEXT, ts_ms INTEGER, received_ms INTEGER, delivered_wh REAL,
      received_wh REAL, PRIMARY KEY (meter, ts_ms)) WITHOUT ROWID;`);
  const insertDemand = db.prepare("INSERT INTO demand VALUES (?, ?, ?, ?)");
  const insertSummation = db.prepare("INSERT INTO summation VALUES (?, ?, ?, ?, ?)");
  const started = performance.now();
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
  const ms = performance.now() - started;
  db.close();
  return ms;
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
let bestOurs = Infinity;
let bestBaseline = Infinity;
for (let round = 0; round < ROUNDS; round++) {
  const ours = runOurs(stream, `${dir}/ours-${round}.db`);
  if (ours.stored !== FRAGMENTS) throw new Error(`stored ${ours.stored} of ${FRAGMENTS}`);
  bestOurs = Math.min(bestOurs, ours.ms);
  bestBaseline = Math.min(bestBaseline, runBaseline(decoded.events, `${dir}/raw-${round}.db`));
}
await Deno.remove(dir, { recursive: true });

const rate = (ms: number) => Math.round(FRAGMENTS / (ms / 1000));
console.log(`ingest benchmark: ${FRAGMENTS} fragments (${stream.length} bytes), best of ${ROUNDS}`);
console.log(
  `  openseg frame+decode+store  ${rate(bestOurs).toLocaleString("en")} fragments/s` +
    ` (${bestOurs.toFixed(0)} ms)`,
);
console.log(
  `  raw node:sqlite inserts     ${rate(bestBaseline).toLocaleString("en")} rows/s` +
    ` (${bestBaseline.toFixed(0)} ms)`,
);
console.log(`  ratio openseg / raw inserts ${(bestBaseline / bestOurs).toFixed(2)}`);
