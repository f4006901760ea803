/**
 * Memory benchmark: the gateway's resident set size with 4 simulated meters once the 48-hour ring
 * is full, in the process that filled it, next to an idle Deno process measured in the same run as
 * the baseline. Two gateways, one after the other: the release bundle (`packaging/bundle.sh`,
 * what the binary runs) and the sources (`main.ts`, what `deno task start` runs). Each backfills
 * 48 hours at high speed (the burst is reported), rests 20 s (at rest, GraphQL not loaded yet),
 * then answers an app's GraphQL queries and rests 30 s (at rest with GraphQL loaded: what a box
 * whose owner has opened the dashboard looks like).
 *
 * Run: `npx deno task bench` (or `deno run -A bench/rss.ts`).
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { appGrant, BENCH_OWNER_PASSWORD, ownerCookie, prepareOwnerAndApp } from "./app_token.ts";
import { freePort, memoryMb, sleep, startServe, waitUntilServing } from "./gateway_process.ts";
import { buildReleaseBundle } from "../tests/packaging/release_bundle.ts";

const METERS = 4;
const RETENTION_HOURS = 48;
const QUERY = "{ meters { id demand { demandW } } }";

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

interface RingMemory {
  fillS: number;
  dbMb: number;
  burstMb: number;
  burstPeakMb: number;
  restMb: number;
  graphqlRestMb: number;
}

/** Fills the ring with one gateway process (`bundle`, or the sources) and measures it. */
async function measureRing(bundle?: string): Promise<RingMemory> {
  const dir = await Deno.makeTempDir({ prefix: "openseg-rss-" });
  const dbPath = `${dir}/gateway.db`;
  const app = await prepareOwnerAndApp(dbPath);
  const url = `http://127.0.0.1:${freePort()}`;
  const gateway = startServe({
    dbPath,
    listen: url.slice("http://".length),
    args: ["--simulate", "--meters", String(METERS), "--backfill-hours", String(RETENTION_HOURS)],
    bundle,
  });
  try {
    await waitUntilServing(`${url}/health`, gateway);
    const startedMs = performance.now();
    while (fullMeters(dbPath) < METERS) {
      if (performance.now() - startedMs > 300_000) throw new Error("ring did not fill in 5 min");
      await sleep(1000);
    }
    const fillS = (performance.now() - startedMs) / 1000;
    await sleep(3000);
    const burst = memoryMb(gateway.pid);
    // At rest once the burst is over: what a box that backfilled looks like.
    await sleep(20_000);
    const restMb = memoryMb(gateway.pid).rssMb;
    const { accessToken } = await appGrant(url, app, await ownerCookie(url, BENCH_OWNER_PASSWORD));
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${url}/graphql`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${accessToken}` },
        body: JSON.stringify({ query: QUERY }),
      });
      if (response.status !== 200) throw new Error(`/graphql answered ${response.status}`);
      await response.text();
    }
    await sleep(30_000);
    const graphqlRestMb = memoryMb(gateway.pid).rssMb;
    return {
      fillS,
      dbMb: (await Deno.stat(dbPath)).size / 1024 / 1024,
      burstMb: burst.rssMb,
      burstPeakMb: burst.peakMb,
      restMb,
      graphqlRestMb,
    };
  } finally {
    gateway.kill("SIGTERM");
    await gateway.output();
    await Deno.remove(dir, { recursive: true });
  }
}

const bundleDir = await Deno.makeTempDir({ prefix: "openseg-rss-bundle-" });
const released = await measureRing(await buildReleaseBundle(bundleDir));
await Deno.remove(bundleDir, { recursive: true });
const sources = await measureRing();
const idleMb = await measureIdleDeno();

console.log(`memory benchmark: ${METERS} simulated meters, ${RETENTION_HOURS} h ring full`);
console.log(
  `  ring backfilled in ${sources.fillS.toFixed(0)} s; database ${sources.dbMb.toFixed(1)} MB`,
);
for (
  const [name, memory] of [["release bundle", released], ["sources (main.ts)", sources]] as const
) {
  console.log(
    `  ${name}: RSS in the process that filled the ring ${memory.graphqlRestMb.toFixed(1)} MB ` +
      `at rest with GraphQL loaded (${memory.restMb.toFixed(1)} MB before its first query); ` +
      `${memory.burstMb.toFixed(1)} MB during the backfill burst (peak ${
        memory.burstPeakMb.toFixed(1)
      } MB)`,
  );
}
console.log(
  `  idle deno   ${idleMb.toFixed(1)} MB; ratio ${(released.graphqlRestMb / idleMb).toFixed(2)}`,
);
