/**
 * Memory benchmark: the gateway's resident set size with 4 simulated meters once the 48-hour ring
 * is full, next to an idle Deno process measured in the same run as the baseline. The meters
 * first backfill 48 hours at high speed (the burst and, 20 s later, the same process at rest are
 * reported); then a fresh gateway runs on that full ring in real time — what a box that has run
 * for two days lives in after a restart.
 *
 * Run: `npx deno task bench` (or `deno run -A bench/rss.ts`).
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { memoryMb, sleep, startServe } from "./gateway_process.ts";

const METERS = 4;
const RETENTION_HOURS = 48;

/** Meters whose stored demand spans (nearly) the whole retention window. */
function fullMeters(dbPath: string): number {
  try {
    const db = new DatabaseSync(dbPath, { readOnly: true });
    const rows = db.prepare(
      "SELECT meter_key, max(ts_ms) - min(ts_ms) AS spanMs FROM demand GROUP BY meter_key",
    ).all() as { spanMs: number }[];
    db.close();
    return rows.filter((r) => r.spanMs >= (RETENTION_HOURS - 0.5) * 3_600_000).length;
  } catch {
    return 0;
  }
}

async function measureIdleDeno(): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "await new Promise((r) => setTimeout(r, 3000))"],
  }).spawn();
  await sleep(1500);
  const { rssMb } = memoryMb(child.pid);
  await child.output();
  return rssMb;
}

const dir = await Deno.makeTempDir({ prefix: "openseg-rss-" });
const dbPath = `${dir}/gateway.db`;
/** Starts `openseg serve` with 4 simulated meters on `dbPath`, plus `extraArgs`. */
function startGateway(extraArgs: string[]): Deno.ChildProcess {
  return startServe({
    dbPath,
    listen: "127.0.0.1:0",
    args: ["--simulate", "--meters", String(METERS), ...extraArgs],
  });
}

// Phase 1: fill the ring fast (48 h of history replayed at high speed), then stop.
const filler = startGateway(["--backfill-hours", String(RETENTION_HOURS)]);
const startedMs = performance.now();
while (fullMeters(dbPath) < METERS) {
  if (performance.now() - startedMs > 300_000) throw new Error("ring did not fill in 5 minutes");
  if ((await Promise.race([filler.status, sleep(0)])) !== undefined) {
    throw new Error("the gateway exited early");
  }
  await sleep(1000);
}
const fillS = (performance.now() - startedMs) / 1000;
await sleep(3000);
const burst = memoryMb(filler.pid);
// The same process at rest once the burst is over: what a box that backfilled looks like.
await sleep(20_000);
const fillerRestMb = memoryMb(filler.pid).rssMb;
filler.kill("SIGTERM");
await filler.output();

// Phase 2: what a box that has run for two days looks like: the full ring, meters in real time.
const gateway = startGateway([]);
await sleep(20_000);
const { rssMb } = memoryMb(gateway.pid);
gateway.kill("SIGTERM");
await gateway.output();
const dbMb = (await Deno.stat(dbPath)).size / 1024 / 1024;
await Deno.remove(dir, { recursive: true });
const idleMb = await measureIdleDeno();

console.log(`memory benchmark: ${METERS} simulated meters, ${RETENTION_HOURS} h ring full`);
console.log(`  ring backfilled in ${fillS.toFixed(0)} s; database ${dbMb.toFixed(1)} MB`);
console.log(
  `  gateway RSS ${fillerRestMb.toFixed(1)} MB at rest in the process that filled the ring, ` +
    `${rssMb.toFixed(1)} MB after a restart on the full ring, meters in real time`,
);
console.log(
  `  during the backfill burst: RSS ${burst.rssMb.toFixed(1)} MB (peak ${
    burst.peakMb.toFixed(1)
  } MB)`,
);
console.log(`  idle deno   ${idleMb.toFixed(1)} MB; ratio ${(rssMb / idleMb).toFixed(2)}`);
