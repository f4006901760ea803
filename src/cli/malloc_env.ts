/**
 * The C allocator's environment for the gateway process, set by every way of starting it (`deno
 * task start` through `start.ts`, `deno task demo`, the systemd unit, the benchmarks). glibc reads
 * it once, when the process starts: a running process cannot change it (`mallopt` then is too
 * late for the threads Deno has already started).
 *
 * - `MALLOC_ARENA_MAX=1`: every thread allocates from the one main arena. By default each thread
 *   that allocates (Deno's I/O threads, V8's compiler and collector threads) gets an arena of its
 *   own, and what is freed in one arena cannot serve another: at rest on a full ring the threads'
 *   arenas held 6 MB, which `malloc_trim` cannot give back while a live block sits in each page.
 *   With one arena the gateway's resident set at rest is ~5 MB smaller (docs/benchmarks.md);
 *   glibc's per-thread cache still serves small blocks without taking the arena's lock.
 *
 * @module
 */

export const GATEWAY_MALLOC_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: "1" };
