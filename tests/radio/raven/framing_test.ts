/**
 * Tests for the serial stream framing: chunking, line endings, garbage, resync and the buffer bound.
 *
 * @module
 */

import { referenceFolder } from "../../reference.ts";
import assert from "node:assert/strict";
import {
  decodeWindows1252,
  FragmentSplitter,
  splitFragments,
} from "../../../src/radio/raven/framing.ts";

const CAPTURES = referenceFolder("raven/");
const ascii = (text: string) => new TextEncoder().encode(text);

function captureFiles(): string[] {
  return [...Deno.readDirSync(CAPTURES)]
    .map((e) => e.name)
    .filter((name) => !name.endsWith(".md"))
    .sort();
}

function readCapture(name: string): Uint8Array {
  return Deno.readFileSync(new URL(name, CAPTURES));
}

/** Small deterministic PRNG so failures reproduce. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function pushAll(splitter: FragmentSplitter, chunks: Uint8Array[]): string[] {
  return chunks.flatMap((chunk) => splitter.push(chunk));
}

const DEMAND = "<InstantaneousDemand>\r\n  <DeviceMacId>0xd8d5b900000041d7</DeviceMacId>\r\n" +
  "  <Demand>0x0001c5</Demand>\r\n</InstantaneousDemand>";

Deno.test("one fragment with CR LF, LF and no line breaks", () => {
  for (const text of [DEMAND, DEMAND.replaceAll("\r\n", "\n"), DEMAND.replaceAll("\r\n", "")]) {
    assert.deepEqual(splitFragments(ascii(text + "\r\n")), [text]);
  }
});

Deno.test("several fragments in one push, back to back", () => {
  const flat = DEMAND.replaceAll("\r\n", "");
  assert.deepEqual(splitFragments(ascii(flat + flat + "\n" + flat)), [flat, flat, flat]);
});

Deno.test("a fragment split across pushes, one byte at a time", () => {
  const splitter = new FragmentSplitter();
  const bytes = ascii(DEMAND + "\r\n" + DEMAND);
  const out: string[] = [];
  for (const b of bytes) out.push(...splitter.push(new Uint8Array([b])));
  assert.deepEqual(out, [DEMAND, DEMAND]);
  assert.equal(splitter.stats.fragments, 2);
  assert.equal(splitter.stats.droppedBytes, 0);
});

Deno.test("every capture gives the same fragments one byte at a time and in random chunks", () => {
  const next = random(42);
  for (const name of captureFiles()) {
    const bytes = readCapture(name);
    const whole = splitFragments(bytes);
    assert.ok(whole.length > 0, name);
    const byteAtATime = pushAll(
      new FragmentSplitter(),
      [...bytes].map((b) => new Uint8Array([b])),
    );
    assert.deepEqual(byteAtATime, whole, `${name} byte at a time`);
    for (let round = 0; round < 20; round++) {
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < bytes.length;) {
        const size = 1 + Math.floor(next() * 97);
        chunks.push(bytes.subarray(i, i + size));
        i += size;
      }
      assert.deepEqual(pushAll(new FragmentSplitter(), chunks), whole, `${name} round ${round}`);
    }
  }
});

Deno.test("fragment counts per capture", () => {
  const expected: Record<string, number> = {
    "constructed-connectionstatus-sequence.txt": 10,
    "constructed-demand-import-then-export.txt": 2,
    "constructed-nul-bytes-around-summation.txt": 1,
    "constructed-profiledata.txt": 2,
    "eagle100-uploader-bodies-iot-recorder.xml": 6,
    "eagle200-uploader-examples-rainforest.xml": 7,
    "emu2-blockpricedetail-rainforest-sample.txt": 1,
    "emu2-demand-multiplier3-danlindow.txt": 1,
    "emu2-fragments-roachwork.txt": 5,
    "emu2-instantaneous-demand-termite.txt": 2,
    "emu2-networkinfo-and-summation-rainforest-readme.txt": 2,
    "garbage-rainforest-sample-lines.txt": 1,
    "mock-aioraven-all-fragments.txt": 22,
    "mock-aioraven-datecode-ff-filler.txt": 1,
    "mock-aioraven-leftovers-and-partial.txt": 3,
    "mock-aioraven-negative-demand.txt": 2,
    "mock-aioraven-warnings.txt": 2,
  };
  for (const name of captureFiles()) {
    assert.equal(splitFragments(readCapture(name)).length, expected[name], name);
  }
});

Deno.test("Windows-1252: every byte maps to a character, 0x80-0x9F via the code page", () => {
  const all = new Uint8Array(256).map((_, i) => i);
  const text = decodeWindows1252(all);
  // 32 C0 controls minus TAB, LF, CR are stripped.
  assert.equal(text.length, 256 - 29);
  assert.equal(
    decodeWindows1252(new Uint8Array([0x80, 0x9f, 0xff, 0x81])),
    "\u20ac\u0178\u00ff\u0081",
  );
  const filler = splitFragments(readCapture("mock-aioraven-datecode-ff-filler.txt"))[0];
  assert.ok(filler.includes("<DateCode>" + "\u00ff".repeat(16) + "</DateCode>"));
});

Deno.test("NUL and other C0 controls are stripped, TAB/CR/LF kept", () => {
  const nul = splitFragments(readCapture("constructed-nul-bytes-around-summation.txt"));
  const clean = splitFragments(readCapture("emu2-networkinfo-and-summation-rainforest-readme.txt"));
  assert.deepEqual(nul, [clean[1]]);
  const noisy = ascii("\x00\x01<Warning>\x07\t<Text>hi\x1b</Text></Warning>\x00");
  assert.deepEqual(splitFragments(noisy), ["<Warning>\t<Text>hi</Text></Warning>"]);
});

Deno.test("garbage before a root is dropped and counted; orphan children and stray closes too", () => {
  const splitter = new FragmentSplitter();
  const out = splitter.push(readCapture("mock-aioraven-leftovers-and-partial.txt"));
  assert.equal(out.length, 3);
  assert.ok(out.every((f) => f.startsWith("<MeterList>") && f.endsWith("</MeterList>")));
  assert.equal(splitter.stats.droppedBytes, "</Leftovers>".length);
  // The trailing unterminated <DeviceInfo> waits for more input and is reported by flush().
  assert.equal(splitter.flush(), "<DeviceInfo>");
  assert.equal(splitter.flush(), null);

  const midStream = new FragmentSplitter();
  const frags = midStream.push(ascii(
    "xx  <Demand>0x0001c5</Demand>\r\n  <Multiplier>0x1</Multiplier>\r\n</InstantaneousDemand>\r\n" +
      DEMAND,
  ));
  assert.deepEqual(frags, [DEMAND]);
  assert.ok(midStream.stats.droppedBytes > 0);
});

Deno.test("the Rainforest garbage sample: garbled DeviceInfo passes through, fused tag is dropped", () => {
  const splitter = new FragmentSplitter();
  const bytes = readCapture("garbage-rainforest-sample-lines.txt");
  const out = splitter.push(bytes);
  assert.equal(out.length, 1);
  assert.ok(out[0].startsWith("<DeviceInfo>") && out[0].endsWith("</DeviceInfo>"));
  assert.ok(out[0].includes("</ModlId>"));
  // `<CommandZPS_EVENT_NWK_JOINED_AS_ENDDEVICE>` is not a root; its lines are garbage.
  assert.ok(splitter.stats.droppedBytes > 0);
  // A valid fragment right after the garbage is still found.
  assert.deepEqual(splitter.push(ascii(DEMAND)), [DEMAND]);
});

Deno.test("a fragment that never closes costs only itself (line breaks and single-line)", () => {
  const truncatedLines =
    "<CurrentSummationDelivered>\r\n  <DeviceMacId>0xd8d5b900000041d7</DeviceMacId>" +
    "\r\n  <SummationDelivered>0x00000000";
  assert.deepEqual(splitFragments(ascii(truncatedLines + "\r\n" + DEMAND)), [DEMAND]);
  const flat = DEMAND.replaceAll("\r\n", "");
  assert.deepEqual(splitFragments(ascii(flat.slice(0, 60) + flat)), [flat]);
  // Lost root close after a complete child: the next root still resynchronises.
  const noClose = DEMAND.slice(0, DEMAND.indexOf("</InstantaneousDemand>"));
  assert.deepEqual(splitFragments(ascii(noClose + DEMAND + noClose + DEMAND)), [DEMAND, DEMAND]);
});

Deno.test("child tags inside a fragment are not new roots; case-insensitive root close", () => {
  const text = "<InstantaneousDemand>\n<Demand>0x1</Demand>\n<DeviceMacId>0x1</DeviceMacId>\n" +
    "</instantaneousdemand>";
  assert.deepEqual(splitFragments(ascii(text)), [text]);
  const commandLike = "<Command><Name>get_time</name><Refresh>Y</Refresh></COMMAND>";
  assert.deepEqual(splitFragments(ascii(commandLike)), [commandLike]);
});

Deno.test("the uploader wrapper is skipped and the inner fragments found", () => {
  const out = splitFragments(readCapture("eagle100-uploader-bodies-iot-recorder.xml"));
  assert.deepEqual(
    out.map((f) => f.slice(1, f.indexOf(">"))),
    [
      "DeviceInfo",
      "NetworkInfo",
      "InstantaneousDemand",
      "CurrentSummationDelivered",
      "PriceCluster",
      "MessageCluster",
    ],
  );
});

Deno.test("a missing close bounded by maxBufferBytes: overflow counted, buffer never exceeds", () => {
  const splitter = new FragmentSplitter({ maxBufferBytes: 256 });
  const open = "<InstantaneousDemand>\n  <Text>" + "x".repeat(1000);
  const out: string[] = [];
  for (const b of ascii(open)) {
    out.push(...splitter.push(new Uint8Array([b])));
    assert.ok(splitter.bufferedBytes <= 256);
  }
  assert.equal(splitter.stats.overflows, 1);
  assert.deepEqual(splitter.push(ascii(DEMAND)), [DEMAND]);
  assert.deepEqual(out, []);
});

Deno.test("1 MB of random garbage interleaved with valid fragments: all recovered, bound kept", () => {
  const next = random(7);
  const valid = captureFiles()
    .filter((name) => !name.startsWith("garbage") && !name.includes("leftovers"))
    .flatMap((name) => splitFragments(readCapture(name)));
  const splitter = new FragmentSplitter();
  const out: string[] = [];
  const expected: string[] = [];
  let garbageBytes = 0;
  let maxBuffered = 0;
  while (garbageBytes < 1 << 20) {
    const size = Math.floor(next() * 8192);
    const garbage = new Uint8Array(size).map(() => Math.floor(next() * 256));
    garbageBytes += size;
    const fragment = valid[Math.floor(next() * valid.length)];
    expected.push(fragment);
    // The fragment text is Windows-1252; re-encode it byte for byte (U+00FF → 0xFF).
    const fragmentBytes = new Uint8Array([...fragment].map((c) => c.charCodeAt(0) & 0xff));
    const stream = new Uint8Array(size + 2 + fragmentBytes.length);
    stream.set(garbage);
    stream.set(ascii("\r\n"), size);
    stream.set(fragmentBytes, size + 2);
    for (let i = 0; i < stream.length;) {
      const chunk = 1 + Math.floor(next() * 600);
      out.push(...splitter.push(stream.subarray(i, i + chunk)));
      maxBuffered = Math.max(maxBuffered, splitter.bufferedBytes);
      i += chunk;
    }
  }
  // Random garbage may itself frame a bogus fragment now and then; every valid one must be there,
  // in order.
  let k = 0;
  for (const fragment of out) if (fragment === expected[k]) k++;
  assert.equal(k, expected.length);
  assert.ok(maxBuffered <= 8192, `buffered ${maxBuffered}`);
  assert.ok(splitter.stats.droppedBytes > 0);
});

Deno.test("a 1 MB flood of garbage without a root never grows the buffer", () => {
  const next = random(99);
  const splitter = new FragmentSplitter({ maxBufferBytes: 1024 });
  const flood = new Uint8Array(1 << 20).map(() => Math.floor(next() * 256));
  // Worst case for a naive reader: an open root, then a flood with no close tag.
  splitter.push(ascii("<InstantaneousDemand>\n  <Demand>"));
  for (let i = 0; i < flood.length; i += 4096) {
    splitter.push(flood.subarray(i, i + 4096));
    assert.ok(splitter.bufferedBytes <= 1024);
  }
  splitter.push(flood);
  assert.ok(splitter.bufferedBytes <= 1024);
  assert.ok(splitter.stats.overflows >= 1);
  assert.deepEqual(splitter.push(ascii("\r\n" + DEMAND)), [DEMAND]);
});

Deno.test("options are validated", () => {
  assert.throws(() => new FragmentSplitter({ maxBufferBytes: 0 }), RangeError);
});
