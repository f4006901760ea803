/**
 * `malloc_trim` over FFI (`ffi/malloc_trim.ts`) and the gateway's timer around it
 * (`src/app/native_memory.ts`), with real glibc allocations.
 */
import assert from "node:assert/strict";
import { openMallocTrim } from "../../ffi/malloc_trim.ts";
import { startNativeMemoryTrim } from "../../src/app/native_memory.ts";

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
  const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const trimmer = startNativeMemoryTrim({
    everyMs: 5,
    trim: null,
    collect: () => collections++,
    activity: () => requests,
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
  } finally {
    trimmer.stop();
  }
});
