/**
 * Tests for `ffi/libc.ts` on real pseudo-terminal pairs.
 *
 * Run: `npx deno test --allow-ffi --allow-env --allow-read --sanitize-ops tests/ffi/`
 *
 * @module
 */

import assert from "node:assert/strict";
import { FdTransport, PseudoTerminal } from "../../ffi/libc.ts";

const READ_WAIT_MS = 100;
/** A generous bound: a lost byte shows up as a failure instead of a hang. */
const TRANSFER_LIMIT_MS = 20_000;

/** Every byte value plus the line endings a cooked tty would rewrite. */
function rawModeProbe(): Uint8Array {
  const bytes = new Uint8Array(256 + 6);
  for (let value = 0; value < 256; value++) bytes[value] = value;
  bytes.set([0x0d, 0x0a, 0x0a, 0x0d, 0x03, 0x04], 256);
  return bytes;
}

async function readExactly(
  transport: FdTransport,
  byteCount: number,
): Promise<Uint8Array> {
  const received = new Uint8Array(byteCount);
  let offset = 0;
  const deadline = performance.now() + TRANSFER_LIMIT_MS;
  while (offset < byteCount) {
    assert.ok(performance.now() < deadline, `only ${offset} of ${byteCount} bytes arrived`);
    const chunk = await transport.read(READ_WAIT_MS);
    assert.notEqual(chunk, null, "unexpected hang-up");
    assert.ok(offset + chunk!.length <= byteCount, "more bytes than were written");
    received.set(chunk!, offset);
    offset += chunk!.length;
  }
  return received;
}

/** Opens a pair and hands its master and an FdTransport over the slave to `body`. */
async function withPair(
  body: (master: PseudoTerminal, slave: FdTransport) => Promise<void>,
): Promise<void> {
  const master = PseudoTerminal.open();
  const slave = new FdTransport({ fd: master.openSlaveFd(), name: master.slavePath });
  try {
    await body(master, slave);
  } finally {
    await slave.close();
    await master.close();
  }
}

Deno.test("PseudoTerminal.open allocates a pty pair", async () => {
  const master = PseudoTerminal.open();
  try {
    assert.match(master.slavePath, /^\/dev\/pts\/\d+$/);
    assert.equal(master.name, master.slavePath);
    assert.ok(master.masterFd >= 0);
    assert.ok(master.isOpen);
  } finally {
    await master.close();
  }
  assert.equal(master.isOpen, false);
});

Deno.test("raw mode passes every byte unchanged from master to slave", async () => {
  await withPair(async (master, slave) => {
    const probe = rawModeProbe();
    await master.write(probe);
    assert.deepEqual(await readExactly(slave, probe.length), probe);
  });
});

Deno.test("raw mode passes every byte unchanged from slave to master, without echo", async () => {
  await withPair(async (master, slave) => {
    const probe = rawModeProbe();
    await slave.write(probe);
    assert.deepEqual(await readExactly(master, probe.length), probe);
    // With echo on, the slave would see its own bytes again.
    assert.deepEqual(await slave.read(READ_WAIT_MS), new Uint8Array(0));
  });
});

Deno.test("a 2 MiB write from the master arrives intact while the slave reads", async () => {
  await withPair(async (master, slave) => {
    const payload = new Uint8Array(2 * 1024 * 1024);
    // A pattern with a period that is not a power of two catches dropped or repeated chunks.
    for (let index = 0; index < payload.length; index++) payload[index] = (index * 7) % 251;
    const [, received] = await Promise.all([
      master.write(payload),
      readExactly(slave, payload.length),
    ]);
    assert.ok(received.every((value, index) => value === payload[index]));
  });
});

Deno.test("the master reports a hang-up only after the slave had been opened", async () => {
  const master = PseudoTerminal.open();
  try {
    assert.deepEqual(await master.read(READ_WAIT_MS), new Uint8Array(0));
    const slave = new FdTransport({ fd: master.openSlaveFd(), name: master.slavePath });
    await slave.write(new TextEncoder().encode("bye"));
    await slave.close();
    assert.deepEqual(await master.read(READ_WAIT_MS), new TextEncoder().encode("bye"));
    assert.equal(await master.read(READ_WAIT_MS), null);
    await assert.rejects(master.write(new Uint8Array([1])), /Input\/output error/);
  } finally {
    await master.close();
  }
});

Deno.test("closing the master hangs up the slave", async () => {
  const master = PseudoTerminal.open();
  const slave = new FdTransport({ fd: master.openSlaveFd(), name: master.slavePath });
  try {
    await master.close();
    assert.equal(await slave.read(1000), null);
    await assert.rejects(slave.write(new Uint8Array([1])), /Input\/output error/);
  } finally {
    await slave.close();
  }
});

Deno.test("a second concurrent read rejects; close waits for the pending one", async () => {
  const master = PseudoTerminal.open();
  const pending = master.read(200);
  await assert.rejects(master.read(10), /one read/);
  await Promise.all([master.close(), master.close()]);
  assert.equal(await pending, null);
  await assert.rejects(master.read(10), /after close/);
});
