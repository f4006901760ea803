/**
 * The V8 flags every way of starting the gateway passes (`deno task start` through `start.ts`,
 * `deno task demo`, the compiled binary from `packaging/compile.sh`, the benchmarks), so the
 * memory measured is the memory a box sees. They trade a little CPU for resident memory:
 *
 * - `--max-semi-space-size=1`: the young generation grows to 3 MB instead of V8's default 48 MB
 *   (3 × 16 MB). Under load V8 grows it to the maximum and keeps it, which was most of the
 *   difference between the heap's use and its size; requests allocate short-lived objects that a
 *   small scavenge collects as cheaply.
 * - `--optimize-for-size`: V8 grows the old generation in smaller steps and gives pages back
 *   sooner, so what a 48 h backfill or a burst of queries left behind does not stay resident.
 * - `--expose-gc`: lets the gateway run a full collection once a load is over and the process is
 *   quiet (`src/app/native_memory.ts`): V8 otherwise waits for allocation that a quiet gateway
 *   never does, and what 700 streams left stayed resident (125 MB a minute after, 100 at rest).
 * - `--no-sparkplug`: no baseline machine code between the interpreter and the optimizing tiers.
 *   Sparkplug compiles every function that runs a few times; at rest that code (and its metadata)
 *   held ~3 MB, while the request paths are hot enough to be optimized by Maglev and TurboFan
 *   anyway: `bench/http_load.ts` served as fast without it (small query 0.164-0.202x, series
 *   0.409-0.436x, against 0.155-0.181x and 0.307-0.379x with it, rounds of the same day).
 *
 * Measured (bench/http_load.ts, docs/benchmarks.md): the process that filled the ring uses about
 * 25 MB less at rest and about half as much under the GraphQL load.
 *
 * @module
 */

export const GATEWAY_V8_FLAGS: readonly string[] = [
  "--max-semi-space-size=1",
  "--optimize-for-size",
  "--expose-gc",
  "--no-sparkplug",
];

/** The `deno run`/`deno compile` argument carrying `GATEWAY_V8_FLAGS`. */
export function v8FlagsArgument(): string {
  return `--v8-flags=${GATEWAY_V8_FLAGS.join(",")}`;
}
