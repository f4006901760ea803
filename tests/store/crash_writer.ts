/**
 * Child process for `crash_test.ts`: ingests demand events into the database given as the only
 * argument until killed, printing the running committed count after every commit.
 *
 * @module
 */

import { openDatabase } from "../../src/store/db.ts";
import { IngestWriter } from "../../src/store/ingest.ts";
import { demand, METER_A, PORT, T0 } from "./fixtures.ts";

const path = Deno.args[0];
if (!path) throw new Error("usage: crash_writer.ts <db>");

const db = openDatabase(path);
const encoder = new TextEncoder();
let committedCount = 0;
const writer = new IngestWriter(db, {
  flushIntervalMs: 20,
  maxBatch: 2000,
  onCommit: (committed) => {
    committedCount += committed.length;
    // Synchronous write: the line is out before the next event is queued.
    Deno.stdout.writeSync(encoder.encode(`committed ${committedCount}\n`));
  },
});

// One sample per meter-second keeps everything well inside 48 h retention.
for (let second = 0;; second++) {
  const timeMs = T0 + second * 1000;
  writer.add(PORT, demand(METER_A, timeMs, 1000 + (second % 500)), timeMs);
  if (second % 250 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
}
