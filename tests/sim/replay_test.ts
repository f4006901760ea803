/**
 * Tests for capture replay: bytes written through a real pseudo-terminal arrive unchanged.
 *
 * @module
 */

import assert from "node:assert/strict";
import { PseudoTerminal } from "../../ffi/libc.ts";
import { SerialPort } from "../../ffi/libserialport.ts";
import { replayCapture } from "../../src/sim/replay.ts";

const encoder = new TextEncoder();

/**
 * A capture in the shape real sticks produce (after the reference captures): NUL runs around a
 * CR LF summation fragment, a DeviceInfo whose DateCode is raw 0xFF filler, then every byte value
 * once, so any translation by the pty (CR/LF mapping, echo) would show.
 */
function sampleCapture(): Uint8Array {
  const summation = "<CurrentSummationDelivered>\r\n" +
    "  <DeviceMacId>0xd8d5b900000041d7</DeviceMacId>\r\n" +
    "  <MeterMacId>0x000781000081fd17</MeterMacId>\r\n" +
    "  <TimeStamp>0x1c90932b</TimeStamp>\r\n" +
    "  <SummationDelivered>0x0000000006bc5b7d</SummationDelivered>\r\n" +
    "  <SummationReceived>0x0000000000000000</SummationReceived>\r\n" +
    "  <Multiplier>0x00000001</Multiplier>\r\n" +
    "  <Divisor>0x000003e8</Divisor>\r\n" +
    "</CurrentSummationDelivered>\r\n";
  return new Uint8Array([
    ...new Uint8Array(6),
    ...encoder.encode(summation),
    0,
    0,
    ...encoder.encode("<DeviceInfo><DeviceMacId>0x0123456789ABCDEF</DeviceMacId><DateCode>"),
    ...new Uint8Array(16).fill(0xff),
    ...encoder.encode("</DateCode></DeviceInfo>"),
    ...Array.from({ length: 256 }, (_, byte) => byte),
  ]);
}

/** Reads from `port` until `count` bytes arrived or nothing came for a while. */
async function readBytes(port: SerialPort, count: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  let idleReads = 0;
  while (total < count && idleReads < 20) {
    const bytes = await port.read(50);
    if (bytes === null) break;
    idleReads = bytes.length === 0 ? idleReads + 1 : 0;
    chunks.push(bytes);
    total += bytes.length;
  }
  const all = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  return all;
}

async function withLink(body: (pty: PseudoTerminal, port: SerialPort) => Promise<void>) {
  const pty = PseudoTerminal.open();
  const port = SerialPort.adoptFd(pty.openSlaveFd(), pty.slavePath);
  try {
    await body(pty, port);
  } finally {
    await port.close();
    await pty.close();
  }
}

for (const repeat of [1, 40]) {
  Deno.test(`replay: a ${repeat}× capture arrives byte-identical through a pty`, async () => {
    const one = sampleCapture();
    const bytes = new Uint8Array(one.length * repeat);
    for (let i = 0; i < repeat; i++) bytes.set(one, i * one.length);
    await withLink(async (pty, port) => {
      const [received] = await Promise.all([
        readBytes(port, bytes.length),
        replayCapture({ transport: pty, bytes, chunkBytes: 37 }),
      ]);
      assert.deepEqual(received, bytes);
    });
  });
}

Deno.test("replay: loops until aborted, pausing between chunks", async () => {
  const bytes = encoder.encode("<Warning>\r\n  <Text>x</Text>\r\n</Warning>\r\n");
  await withLink(async (pty, port) => {
    const controller = new AbortController();
    const replay = replayCapture({
      transport: pty,
      bytes,
      chunkBytes: 16,
      delayMs: 5,
      loop: true,
      signal: controller.signal,
    });
    const received = await readBytes(port, bytes.length * 3);
    controller.abort();
    await replay;
    assert.ok(received.length >= bytes.length * 3);
    assert.deepEqual(received.subarray(0, bytes.length * 2), new Uint8Array([...bytes, ...bytes]));
  });
});

Deno.test("replay: rejects when the reading side hung up", async () => {
  const pty = PseudoTerminal.open();
  const port = SerialPort.adoptFd(pty.openSlaveFd(), pty.slavePath);
  await port.close();
  try {
    await assert.rejects(replayCapture({ transport: pty, bytes: new Uint8Array(1000) }));
  } finally {
    await pty.close();
  }
});
