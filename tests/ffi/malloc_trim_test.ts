/**
 * `malloc_trim` over FFI (`ffi/malloc_trim.ts`) and the gateway's timer around it
 * (`src/app/native_memory.ts`), with real glibc allocations.
 */
import assert from "node:assert/strict";
import { openMallocTrim } from "../../ffi/malloc_trim.ts";
import { exposedFullCollection, startNativeMemoryTrim } from "../../src/app/native_memory.ts";
import { v8FlagsArgument } from "../../src/cli/v8_flags.ts";

const BLOCK_BYTES = 16 * 1024;
const BLOCKS = 4096;

function residentMb(): number {
  return Deno.memoryUsage().rss / 1024 / 1024;
}

Deno.test("malloc_trim gives back freed C heap that a live block above it kept resident", () => {
  const trim = openMallocTrim();
  assert.ok(trim !== null, "glibc's malloc_trim is available on this Linux box");
  const libc = Deno.dlopen(
    "libc.so.6",
    {
      malloc: { parameters: ["usize"], result: "pointer" },
      free: { parameters: ["pointer"], result: "void" },
      memset: { parameters: ["pointer", "i32", "usize"], result: "pointer" },
    } as const,
  );
  try {
    // 64 MB in 16 KB blocks (below the mmap threshold, so in the heap), each touched so it is
    // resident; the last one stays allocated and pins the top of the heap, as a live connection
    // does in the gateway.
    const blocks = Array.from({ length: BLOCKS }, () => {
      const block = libc.symbols.malloc(BigInt(BLOCK_BYTES));
      libc.symbols.memset(block, 1, BigInt(BLOCK_BYTES));
      return block;
    });
    const pin = blocks.pop();
    for (const block of blocks) libc.symbols.free(block);
    const beforeMb = residentMb();
    assert.equal(trim(), true, "something was given back");
    const afterMb = residentMb();
    assert.ok(beforeMb - afterMb > 32, `RSS ${beforeMb.toFixed(1)} → ${afterMb.toFixed(1)} MB`);
    libc.symbols.free(pin!);
  } finally {
    libc.close();
  }
});

Deno.test("the trimmer calls trim on its timer until stopped, and does nothing without one", async () => {
  let calls = 0;
  let called: () => void = () => {};
  const trimmer = startNativeMemoryTrim({
    everyMs: 5,
    trim: () => {
      calls++;
      if (calls === 3) called();
      return false;
    },
  });
  // The trimmer's timer never keeps a process alive; this test's does.
  const keepAlive = setInterval(() => {}, 1000);
  await new Promise<void>((resolve) => called = resolve);
  trimmer.stop();
  const stoppedAt = calls;
  await new Promise((resolve) => setTimeout(resolve, 30));
  clearInterval(keepAlive);
  assert.equal(calls, stoppedAt, "no call after stop");
  startNativeMemoryTrim({ everyMs: 5, trim: null }).stop();
});

Deno.test("a quiet process gets one full collection after requests or 8 MB of growth; a busy one none", async () => {
  let collections = 0;
  let requests = 0;
  const steps: string[] = [];
  const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const trimmer = startNativeMemoryTrim({
    everyMs: 5,
    trim: null,
    collect: () => {
      steps.push("collect");
      collections++;
    },
    activity: () => requests,
    releaseCaches: () => steps.push("release caches"),
  });
  try {
    // Quiet from the start, the heap as it was: nothing to collect.
    await wait(40);
    assert.equal(collections, 0, "none without requests or growth");
    // While requests come, no collection.
    const load = setInterval(() => requests++, 1);
    await wait(60);
    clearInterval(load);
    assert.equal(collections, 0, "none while busy");
    // Quiet after them: one collection, not one per tick.
    await wait(60);
    assert.equal(collections, 1);
    // No requests, but the gateway's own work left well over 8 MB more on the heap: one more.
    const left = Array.from({ length: 300_000 }, (_, i) => ({ i, text: `left ${i}` }));
    await wait(60);
    assert.equal(collections, 2);
    assert.equal(left.length, 300_000);
    // Caches are dropped just before each collection, so that it frees what they held.
    assert.deepEqual(steps, ["release caches", "collect", "release caches", "collect"]);
  } finally {
    trimmer.stop();
  }
});

/**
 * MB the process stays above where it started after building ~60 MB of long-lived objects,
 * dropping most of them, and one collection: the gateway's (`full`) or a plain `gc()`, under the gateway's flags.
 */
async function residentGrowthAfterCollectionMb(kind: "full" | "plain"): Promise<number> {
  const module = new URL("../../src/app/native_memory.ts", import.meta.url).href;
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      v8FlagsArgument(),
      `const { exposedFullCollection } = await import(${JSON.stringify(module)});
      const collect = ${kind === "full" ? "exposedFullCollection()" : "() => gc()"};
      const startMb = Deno.memoryUsage().rss / 1048576;
      let kept = [];
      for (let i = 0; i < 400_000; i++) kept.push({ i, s: "x" + i, pair: [i, i + 1] });
      // Every 50th object stays alive, scattered over all pages, as what the gateway keeps
      // between loads does: the pages hold survivors, so only a compacting collection frees them.
      const survivors = kept.filter((_, i) => i % 50 === 0);
      kept = null;
      collect();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      console.log(Deno.memoryUsage().rss / 1048576 - startMb, survivors.length > 0 ? "" : "-");`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  return Number(new TextDecoder().decode(output.stdout).trim());
}

Deno.test("the idle collection gives V8's freed pages back; a plain gc() keeps them", async () => {
  assert.equal(exposedFullCollection(), null, "this test process runs without --expose-gc");
  // V8 sometimes keeps the pages after either collection (one run in four), so each kind's best
  // of three runs counts.
  const best = async (kind: "full" | "plain") =>
    Math.min(
      await residentGrowthAfterCollectionMb(kind),
      await residentGrowthAfterCollectionMb(kind),
      await residentGrowthAfterCollectionMb(kind),
    );
  const fullMb = await best("full");
  const plainMb = await best("plain");
  assert.ok(
    fullMb < plainMb / 2,
    `after the idle collection +${fullMb} MB, after gc() +${plainMb} MB`,
  );
});
