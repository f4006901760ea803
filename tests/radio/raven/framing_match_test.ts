/**
 * The matched framing path (`pushEach` with the decoder's `matchFragment`, which frames and scans a
 * whole fragment in one pass) against the plain one (`push`, then `decodeFragment` on each
 * fragment's string): same fragments, same decode results, same counters, on realistic streams
 * mutated at random and cut into random reads, and on the cases where the matcher must step aside.
 *
 * @module
 */

import assert from "node:assert/strict";
import { referenceFolder } from "../../reference.ts";
import {
  decodeFragment,
  decodeMatched,
  type DecodeResult,
  decodeText,
  matchFragment,
} from "../../../src/radio/raven/decode.ts";
import { FragmentSplitter } from "../../../src/radio/raven/framing.ts";

const CAPTURES = referenceFolder("raven/");
const ascii = (text: string) => new TextEncoder().encode(text);

/** Small deterministic PRNG so failures reproduce. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

interface Outcome {
  fragments: string[];
  results: DecodeResult[];
  matched: number;
  stats: FragmentSplitter["stats"];
  buffered: number;
}

/** An empty outcome, counting with `splitter`'s counters. */
function outcomeOf(splitter: FragmentSplitter): Outcome {
  return { fragments: [], results: [], matched: 0, stats: splitter.stats, buffered: 0 };
}

/** Both paths over the same reads. */
function both(chunks: Uint8Array[], maxBufferBytes?: number): [Outcome, Outcome] {
  const plainSplitter = new FragmentSplitter({ maxBufferBytes });
  const plain = outcomeOf(plainSplitter);
  const matchedSplitter = new FragmentSplitter({ maxBufferBytes });
  const matched = outcomeOf(matchedSplitter);
  for (const chunk of chunks) {
    for (const fragment of plainSplitter.push(chunk)) {
      plain.fragments.push(fragment);
      plain.results.push(decodeFragment(fragment));
    }
    matchedSplitter.pushEach(chunk, (fragment, wasMatched) => {
      matched.fragments.push(fragment.text);
      matched.results.push(wasMatched ? decodeMatched(fragment) : decodeText(fragment));
      if (wasMatched) matched.matched++;
    }, matchFragment);
  }
  plain.buffered = plainSplitter.bufferedBytes;
  matched.buffered = matchedSplitter.bufferedBytes;
  return [plain, matched];
}

function assertSame(plain: Outcome, matched: Outcome, label: string): void {
  assert.deepStrictEqual(matched.fragments, plain.fragments, `${label}: fragments`);
  assert.deepStrictEqual(matched.results, plain.results, `${label}: decode results`);
  assert.deepStrictEqual(matched.stats, plain.stats, `${label}: counters`);
  assert.equal(matched.buffered, plain.buffered, `${label}: buffered`);
}

/** Cuts `bytes` into reads of 1 to `maxRead` bytes. */
function chunked(bytes: Uint8Array, next: () => number, maxRead: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length;) {
    const size = 1 + Math.floor(next() * maxRead);
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

const DEMAND = "<InstantaneousDemand>\r\n  <DeviceMacId>0xd8d5b90000001234</DeviceMacId>\r\n" +
  "  <MeterMacId>0x0013500100001234</MeterMacId>\r\n  <TimeStamp>0x2fce5480</TimeStamp>\r\n" +
  "  <Demand>0x000b33</Demand>\r\n  <Multiplier>0x00000001</Multiplier>\r\n" +
  "  <Divisor>0x000003e8</Divisor>\r\n  <DigitsRight>0x03</DigitsRight>\r\n" +
  "  <DigitsLeft>0x06</DigitsLeft>\r\n  <SuppressLeadingZero>Y</SuppressLeadingZero>\r\n" +
  "</InstantaneousDemand>\r\n";

/** Fragments the matcher must leave to the tag walk, or decode exactly as the walk would. */
const EDGE_CASES = [
  // A child named like the root (any case) ends the fragment for the framing.
  "<InstantaneousDemand><instantaneousdemand>1</instantaneousdemand>" +
  "<Demand>0x000001</Demand></InstantaneousDemand>",
  "<TimeCluster>\n<TIMECLUSTER>x</TIMECLUSTER>\n<UTCTime>0x1c8c4a4b</UTCTime>\n</TimeCluster>",
  // Root close in another case, child names in another case, whitespace in tags.
  DEMAND.replace("</InstantaneousDemand>", "</instantaneousDEMAND >"),
  DEMAND.replace("<Demand>0x000b33</Demand>", "<demand >0x000b33</DEMAND >"),
  // Empty, blank and self-closing children; entities; attributes; a stray `<`.
  DEMAND.replace("<Demand>0x000b33</Demand>", "<Demand></Demand>"),
  DEMAND.replace("<Demand>0x000b33</Demand>", "<Demand>  \r\n </Demand>"),
  DEMAND.replace("<Demand>0x000b33</Demand>", "<Demand/>").replace("<Divisor>", "<Divisor >"),
  DEMAND.replace("0x000b33", "0x000&amp;b33"),
  DEMAND.replace("<Demand>", '<Demand unit="kW">'),
  DEMAND.replace("0x000b33", "0x00<0b33"),
  // A root-looking tag inside (the first fragment lost its close), unknown roots, nesting.
  DEMAND.replace("<Demand>0x000b33</Demand>", "<PriceCluster>\r\n  <Price>0x01</Price>"),
  "<SomethingNew>\r\n  <Foo>bar</Foo>\r\n</SomethingNew>\r\n",
  "<InstantaneousDemand>\r\n  <Demand><Inner>1</Inner></Demand>\r\n</InstantaneousDemand>\r\n",
  // Non-ASCII and control bytes.
  DEMAND.replace("0x000b33", "0x000b\u00e933"),
  DEMAND.replace("<Demand>", "<Demand>\u0000"),
  // Content after the root's close tag on the same line, and a self-closing root.
  DEMAND.replace("</InstantaneousDemand>\r\n", "</InstantaneousDemand>trailing<\r\n"),
  "<InstantaneousDemand/>\r\n<InstantaneousDemand>\r\n<Demand>0x01</Demand>\r\n</InstantaneousDemand>",
];

Deno.test("matched framing: edge cases give the same fragments, results and counters", () => {
  const next = random(7);
  for (const [k, text] of EDGE_CASES.entries()) {
    const bytes = new Uint8Array([
      ...ascii("garbage " + DEMAND),
      ...latin1(text),
      ...ascii(DEMAND),
    ]);
    const [plain, matched] = both([bytes]);
    assertSame(plain, matched, `edge case ${k}`);
    for (let round = 0; round < 20; round++) {
      const [p, m] = both(chunked(bytes, next, 64));
      assertSame(p, m, `edge case ${k}, random reads`);
    }
  }
});

Deno.test("matched framing: the usual fragment is matched, not walked", () => {
  const [plain, matched] = both([ascii(DEMAND.repeat(5))]);
  assertSame(plain, matched, "five fragments");
  assert.equal(matched.matched, 5);
});

Deno.test("matched framing: a fragment over maxBufferBytes overflows on both paths", () => {
  const long = DEMAND.replace("<Demand>", "<Demand>" + " ".repeat(300));
  const [plain, matched] = both([ascii(DEMAND + long + DEMAND)], 512);
  assertSame(plain, matched, "oversized");
  assert.equal(plain.stats.overflows, 1);
});

Deno.test("matched framing: every capture, and random mutations of them, in random reads", () => {
  const next = random(12);
  const captures = [...Deno.readDirSync(CAPTURES)]
    .map((e) => e.name)
    .filter((name) => !name.endsWith(".md"))
    .sort()
    .map((name) => Deno.readFileSync(new URL(name, CAPTURES)));
  captures.push(ascii(DEMAND.repeat(20)));
  const noise = [...ascii("<>/ \r\nAaZz09&;x"), 0x00, 0xff, 0xe9];
  for (const [k, capture] of captures.entries()) {
    const [plain, matched] = both(chunked(capture, next, 4096));
    assertSame(plain, matched, `capture ${k}`);
    for (let round = 0; round < 40; round++) {
      const bytes = Uint8Array.from(capture);
      const mutations = 1 + Math.floor(next() * 8);
      for (let m = 0; m < mutations; m++) {
        bytes[Math.floor(next() * bytes.length)] = noise[Math.floor(next() * noise.length)];
      }
      const [p, q] = both(chunked(bytes, next, 1 + Math.floor(next() * 600)));
      assertSame(p, q, `capture ${k}, mutation round ${round}`);
    }
  }
});

/** Bytes of a string whose characters are all below U+0100 (as a Windows-1252 stick sends). */
function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}
