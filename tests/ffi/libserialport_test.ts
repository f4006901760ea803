/**
 * Tests for `ffi/libserialport.ts` against the real library, with pseudo-terminals standing in for
 * a USB stick (an adopted slave fd; closing the master acts as the unplug).
 *
 * Run: `npx deno test --allow-ffi --allow-env --allow-read --sanitize-ops tests/ffi/`
 *
 * @module
 */

import assert from "node:assert/strict";
import process from "node:process";
import { PseudoTerminal } from "../../ffi/libc.ts";
import { listSerialPorts, SerialPort, SerialPortError } from "../../ffi/libserialport.ts";

const READ_WAIT_MS = 100;
const TRANSFER_LIMIT_MS = 10_000;
const SP_ERR_ARG = -1;
const SP_ERR_FAIL = -2;

/** Reads from `port` until `byteCount` bytes arrived; returns them and the number of reads. */
async function readExactly(
  port: SerialPort,
  byteCount: number,
): Promise<{ bytes: Uint8Array; reads: number }> {
  const bytes = new Uint8Array(byteCount);
  let offset = 0;
  let reads = 0;
  const deadline = performance.now() + TRANSFER_LIMIT_MS;
  while (offset < byteCount) {
    assert.ok(performance.now() < deadline, `only ${offset} of ${byteCount} bytes arrived`);
    const chunk = await port.read(READ_WAIT_MS);
    assert.notEqual(chunk, null, "unexpected hang-up");
    if (chunk!.length > 0) reads++;
    bytes.set(chunk!, offset);
    offset += chunk!.length;
  }
  return { bytes, reads };
}

async function readMasterExactly(master: PseudoTerminal, byteCount: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(byteCount);
  let offset = 0;
  const deadline = performance.now() + TRANSFER_LIMIT_MS;
  while (offset < byteCount) {
    assert.ok(performance.now() < deadline, `only ${offset} of ${byteCount} bytes arrived`);
    const chunk = await master.read(READ_WAIT_MS);
    assert.notEqual(chunk, null, "unexpected hang-up");
    bytes.set(chunk!, offset);
    offset += chunk!.length;
  }
  return bytes;
}

/** A pty pair whose slave is adopted as a SerialPort. */
async function withAdoptedPty(
  body: (master: PseudoTerminal, port: SerialPort) => Promise<void>,
): Promise<void> {
  const master = PseudoTerminal.open();
  const port = SerialPort.adoptFd(master.openSlaveFd(), master.slavePath);
  try {
    await body(master, port);
  } finally {
    await port.close();
    await master.close();
  }
}

/** CPU time (user + system) in ms used by this process so far. */
function cpuTimeMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

Deno.test("listSerialPorts returns well-formed entries", () => {
  const ports = listSerialPorts();
  assert.ok(Array.isArray(ports));
  for (const port of ports) {
    assert.match(port.name, /^\/dev\/\S+$/);
    assert.ok(["native", "usb", "bluetooth", "unknown"].includes(port.transport));
    assert.ok(port.description === null || typeof port.description === "string");
    if (port.transport === "usb") {
      assert.ok(Number.isInteger(port.usbVid) && Number.isInteger(port.usbPid));
    } else {
      assert.equal(port.usbVid, null);
      assert.equal(port.usbPid, null);
    }
    for (const text of [port.manufacturer, port.product, port.serialNumber]) {
      assert.ok(text === null || typeof text === "string");
    }
  }
});

Deno.test("SerialPort.open on a nonexistent path throws libserialport's error", () => {
  assert.throws(
    () => SerialPort.open("/dev/ttyDOES-NOT-EXIST"),
    (error: unknown) =>
      error instanceof SerialPortError && error.code === SP_ERR_ARG &&
      /ttyDOES-NOT-EXIST.*sp_get_port_by_name.*Invalid arguments/.test(error.message),
  );
});

Deno.test("SerialPort.open cannot open a pseudo-terminal by name", async () => {
  const master = PseudoTerminal.open();
  try {
    // The slave has no /sys/class/tty entry, so libserialport does not find it.
    assert.throws(
      () => SerialPort.open(master.slavePath),
      (error: unknown) => error instanceof SerialPortError && error.code === SP_ERR_ARG,
    );
    // /dev/ptmx is found but fails in sp_open (TIOCMGET); the OS text comes through.
    assert.throws(
      () => SerialPort.open("/dev/ptmx"),
      (error: unknown) =>
        error instanceof SerialPortError && error.code === SP_ERR_FAIL &&
        /sp_open: Inappropriate ioctl for device/.test(error.message),
    );
  } finally {
    await master.close();
  }
});

Deno.test("an adopted pty slave reads chunked master writes across several reads", async () => {
  await withAdoptedPty(async (master, port) => {
    assert.equal(port.name, master.slavePath);
    assert.ok(port.isOpen);
    assert.deepEqual(await port.read(20), new Uint8Array(0), "timeout gives empty bytes");
    const message = new TextEncoder().encode(
      "<InstantaneousDemand>\r\n  <Demand>0x0004a0</Demand>\r\n</InstantaneousDemand>\r\n"
        .repeat(40),
    );
    const reading = readExactly(port, message.length);
    for (let offset = 0; offset < message.length; offset += 37) {
      await master.write(message.subarray(offset, offset + 37));
      if (offset % (37 * 10) === 0) await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const { bytes, reads } = await reading;
    assert.deepEqual(bytes, message);
    assert.ok(reads > 1, "the message should have been split across reads");
  });
});

Deno.test("bytes written to an adopted port arrive on the master exactly", async () => {
  await withAdoptedPty(async (master, port) => {
    const command = new TextEncoder().encode("<Command>\n<Name>get_time</Name>\n</Command>\n");
    await port.write(command);
    assert.deepEqual(await readMasterExactly(master, command.length), command);

    // More than the pty buffer holds, so write() must wait for room.
    const bulk = new Uint8Array(256 * 1024).map((_, index) => index % 253);
    const [, received] = await Promise.all([
      port.write(bulk),
      readMasterExactly(master, bulk.length),
    ]);
    assert.ok(received.every((value, index) => value === bulk[index]));
  });
});

Deno.test("after a hang-up, read() returns null at once and repeated reads stay off the CPU", async () => {
  await withAdoptedPty(async (master, port) => {
    await master.close();
    const firstStart = performance.now();
    assert.equal(await port.read(2000), null);
    // Without hang-up detection this read would wait out its 2000 ms.
    assert.ok(performance.now() - firstStart < 1000, "hang-up was not detected");

    const wallStart = performance.now();
    const cpuStart = cpuTimeMs();
    let reads = 0;
    while (performance.now() - wallStart < 1000) {
      assert.equal(await port.read(READ_WAIT_MS), null);
      reads++;
    }
    const wallMs = performance.now() - wallStart;
    const cpuMs = cpuTimeMs() - cpuStart;
    assert.ok(reads >= 2);
    assert.ok(cpuMs < 0.2 * wallMs, `reads used ${cpuMs.toFixed(1)} ms CPU in ${wallMs} ms`);

    await assert.rejects(
      port.write(new TextEncoder().encode("anyone?")),
      (error: unknown) =>
        error instanceof SerialPortError && error.code === SP_ERR_FAIL && error.errno === 5 &&
        /Input\/output error/.test(error.message),
    );
  });
});

Deno.test("close() is idempotent and waits only for the bounded pending read", async () => {
  const master = PseudoTerminal.open();
  const port = SerialPort.adoptFd(master.openSlaveFd(), master.slavePath);
  try {
    const pending = port.read(300);
    await assert.rejects(port.read(10), /one read/);
    const closeStart = performance.now();
    await Promise.all([port.close(), port.close()]);
    await port.close();
    assert.ok(performance.now() - closeStart < 2000, "close() hung");
    assert.equal(await pending, null);
    assert.equal(port.isOpen, false);
    await assert.rejects(port.read(10), /after close/);
  } finally {
    await master.close();
  }
});
