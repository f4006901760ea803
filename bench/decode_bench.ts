/**
 * Framing and decoding benchmark: µs per fragment for `FragmentSplitter.push` on 4 KiB reads, for
 * `decodeFragment` on the strings, and for both together as the gateway does them (`pushEach`
 * with the decoder's `matchFragment`, which frames and scans a fragment in one pass), on the same
 * stream `bench/ingest.ts` stores (demand every 8 s, summation every 64 s, CR LF, indented). Best
 * of several rounds, since the build machines are shared VMs.
 *
 * Run: `npx deno run -A bench/decode_bench.ts [fragments] [rounds]`.
 *
 * @module
 */

import { FragmentSplitter } from "../src/radio/raven/framing.ts";
import {
  decodeFragment,
  decodeMatched,
  decodeText,
  matchFragment,
} from "../src/radio/raven/decode.ts";
import { buildStream } from "./stream.ts";

const FRAGMENTS = Number(Deno.args[0] ?? 100_000);
const ROUNDS = Number(Deno.args[1] ?? 7);
/** A pty read returns about 4 KiB at a time. */
const READ_BYTES = 4096;

function frameAll(stream: Uint8Array): string[] {
  const splitter = new FragmentSplitter();
  const out: string[] = [];
  for (let offset = 0; offset < stream.length; offset += READ_BYTES) {
    for (const fragment of splitter.push(stream.subarray(offset, offset + READ_BYTES))) {
      out.push(fragment);
    }
  }
  return out;
}

/** Frames and decodes as the gateway does; returns the number of decoded events. */
function frameAndDecode(stream: Uint8Array): number {
  const splitter = new FragmentSplitter();
  let ok = 0;
  for (let offset = 0; offset < stream.length; offset += READ_BYTES) {
    splitter.pushEach(stream.subarray(offset, offset + READ_BYTES), (fragment, matched) => {
      if ((matched ? decodeMatched(fragment) : decodeText(fragment)).ok) ok++;
    }, matchFragment);
  }
  return ok;
}

/** Returns the number of decoded events, so the work cannot be optimised away. */
function decodeAll(fragments: string[]): number {
  let ok = 0;
  for (const fragment of fragments) if (decodeFragment(fragment).ok) ok++;
  return ok;
}

const stream = buildStream(FRAGMENTS);
const fragments = frameAll(stream);
if (fragments.length !== FRAGMENTS) throw new Error(`framed ${fragments.length} of ${FRAGMENTS}`);
if (decodeAll(fragments) !== FRAGMENTS) throw new Error("not every fragment decoded");
if (frameAndDecode(stream) !== FRAGMENTS) throw new Error("not every fragment decoded in one pass");

let bestFrameMs = Infinity;
let bestDecodeMs = Infinity;
let bestTogetherMs = Infinity;
for (let round = 0; round < ROUNDS; round++) {
  let started = performance.now();
  frameAll(stream);
  bestFrameMs = Math.min(bestFrameMs, performance.now() - started);
  started = performance.now();
  decodeAll(fragments);
  bestDecodeMs = Math.min(bestDecodeMs, performance.now() - started);
  started = performance.now();
  frameAndDecode(stream);
  bestTogetherMs = Math.min(bestTogetherMs, performance.now() - started);
}

const usPerFragment = (ms: number) => (ms * 1000 / FRAGMENTS).toFixed(2);
const bytesPerFragment = Math.round(stream.length / FRAGMENTS);
console.log(
  `framing+decoding benchmark: ${FRAGMENTS} fragments (~${bytesPerFragment} B each), ` +
    `best of ${ROUNDS}`,
);
console.log(
  `  framing   ${usPerFragment(bestFrameMs)} µs/fragment` +
    ` (${(stream.length / 1e3 / bestFrameMs).toFixed(0)} MB/s)`,
);
console.log(`  decoding  ${usPerFragment(bestDecodeMs)} µs/fragment (from the strings)`);
console.log(
  `  together, as the gateway does  ${usPerFragment(bestTogetherMs)} µs/fragment` +
    ` (${Math.round(FRAGMENTS / (bestTogetherMs / 1000)).toLocaleString("en")} fragments/s)`,
);
