/**
 * Typed binding over libserialport (Deno FFI): port enumeration and a serial byte transport.
 *
 * Reads wait in `sp_wait` (worker thread) and then read with `sp_nonblocking_read`, because the
 * `sp_blocking_read*` calls busy-spin after a hang-up. libserialport cannot open pseudo-terminals,
 * so {@link SerialPort.adoptFd} wraps an fd opened elsewhere (tests, simulator).
 *
 * @module
 */

import { IoGate } from "./io_gate.ts";
import { closeFd } from "./libc.ts";

const LIBRARY_NAMES = ["libserialport.so.0", "libserialport.so"];
const LIBRARY_PATH_ENV = "LIBSERIALPORT_PATH";

/** `enum sp_return` (errors only). */
const SP_ERR_ARG = -1;
const SP_ERR_FAIL = -2;
const SP_ERR_MEM = -3;
const SP_ERR_SUPP = -4;

const SP_MODE_READ_WRITE = 3;
const SP_EVENT_RX_READY = 1;
const SP_EVENT_TX_READY = 2;
const SP_EVENT_ERROR = 4;
const SP_PARITY_NONE = 0;
const SP_FLOWCONTROL_NONE = 0;

const BAUD_RATE = 115200;
const DATA_BITS = 8;
const STOP_BITS = 1;

const EIO = 5;

/** Size of `struct sp_port` in libserialport 0.1.1/0.1.2 on 64-bit Unix (private ABI). */
const PORT_STRUCT_BYTES = 80;
const PORT_STRUCT_FD_OFFSET = 72;
const READ_BUFFER_BYTES = 64 * 1024;
/** Bounds each TX wait so close() is never held up long by a stalled write. */
const WRITE_WAIT_MS = 100;

/** libserialport.h's description of each `enum sp_return` error. */
const RETURN_CODE_TEXT: Record<number, string> = {
  [SP_ERR_ARG]: "SP_ERR_ARG: Invalid arguments were passed to the function",
  [SP_ERR_FAIL]: "SP_ERR_FAIL: A system error occurred while executing the operation",
  [SP_ERR_MEM]: "SP_ERR_MEM: A memory allocation failed while executing the operation",
  [SP_ERR_SUPP]: "SP_ERR_SUPP: The requested operation is not supported by this system or device",
};

const SP_SYMBOLS = {
  sp_get_port_by_name: { parameters: ["buffer", "buffer"], result: "i32" },
  sp_free_port: { parameters: ["pointer"], result: "void" },
  sp_list_ports: { parameters: ["buffer"], result: "i32" },
  sp_free_port_list: { parameters: ["pointer"], result: "void" },
  sp_get_port_name: { parameters: ["pointer"], result: "pointer" },
  sp_get_port_description: { parameters: ["pointer"], result: "pointer" },
  sp_get_port_transport: { parameters: ["pointer"], result: "i32" },
  sp_get_port_usb_vid_pid: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  sp_get_port_usb_manufacturer: { parameters: ["pointer"], result: "pointer" },
  sp_get_port_usb_product: { parameters: ["pointer"], result: "pointer" },
  sp_get_port_usb_serial: { parameters: ["pointer"], result: "pointer" },
  sp_open: { parameters: ["pointer", "i32"], result: "i32" },
  sp_close: { parameters: ["pointer"], result: "i32" },
  sp_set_baudrate: { parameters: ["pointer", "i32"], result: "i32" },
  sp_set_bits: { parameters: ["pointer", "i32"], result: "i32" },
  sp_set_parity: { parameters: ["pointer", "i32"], result: "i32" },
  sp_set_stopbits: { parameters: ["pointer", "i32"], result: "i32" },
  sp_set_flowcontrol: { parameters: ["pointer", "i32"], result: "i32" },
  sp_nonblocking_read: { parameters: ["pointer", "buffer", "usize"], result: "i32" },
  sp_nonblocking_write: { parameters: ["pointer", "buffer", "usize"], result: "i32" },
  sp_input_waiting: { parameters: ["pointer"], result: "i32" },
  sp_new_event_set: { parameters: ["buffer"], result: "i32" },
  sp_add_port_events: { parameters: ["pointer", "pointer", "i32"], result: "i32" },
  sp_wait: { parameters: ["pointer", "u32"], result: "i32", nonblocking: true },
  sp_free_event_set: { parameters: ["pointer"], result: "void" },
  sp_last_error_code: { parameters: [], result: "i32" },
  sp_last_error_message: { parameters: [], result: "pointer" },
  sp_free_error_message: { parameters: ["pointer"], result: "void" },
} as const;

type SpSymbols = Deno.DynamicLibrary<typeof SP_SYMBOLS>["symbols"];

let loaded: SpSymbols | undefined;

/** Opens libserialport on first use, so importing this module never fails. */
function sp(): SpSymbols {
  loaded ??= loadLibrary();
  return loaded;
}

function loadLibrary(): SpSymbols {
  const override = libraryPathOverride();
  const candidates = override === undefined ? LIBRARY_NAMES : [override];
  const failures: string[] = [];
  for (const candidate of candidates) {
    try {
      return Deno.dlopen(candidate, SP_SYMBOLS).symbols;
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) throw error;
      failures.push(`${candidate}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  throw new Error(
    `libserialport could not be loaded (${failures.join("; ")}). ` +
      `Install it with \`apt-get install libserialport0\`, or set ${LIBRARY_PATH_ENV}.`,
  );
}

/** The env override, read only when already permitted so that loading never prompts. */
function libraryPathOverride(): string | undefined {
  const status = Deno.permissions.querySync({ name: "env", variable: LIBRARY_PATH_ENV });
  return status.state === "granted" ? Deno.env.get(LIBRARY_PATH_ENV) || undefined : undefined;
}

/** A failed libserialport call; `code` is its `enum sp_return` value. */
export class SerialPortError extends Error {
  readonly code: number;
  /** The OS error behind `SP_ERR_FAIL` (e.g. 5 = EIO on hang-up), else null. */
  readonly errno: number | null;

  constructor(message: string, options: { code: number; errno?: number }) {
    super(message);
    this.name = "SerialPortError";
    this.code = options.code;
    this.errno = options.errno ?? null;
  }
}

/**
 * Builds the error for a failed call. Must run right after a failed synchronous call: the errno
 * behind `sp_last_error_message` is thread-local, so it is stale after a nonblocking call.
 */
function spError(call: string, code: number): SerialPortError {
  const summary = RETURN_CODE_TEXT[code] ?? `libserialport returned ${code}`;
  if (code !== SP_ERR_FAIL) return new SerialPortError(`${call}: ${summary}`, { code });
  const c = sp();
  const errno = c.sp_last_error_code();
  const messagePointer = c.sp_last_error_message();
  const message = messagePointer === null
    ? `errno ${errno}`
    : Deno.UnsafePointerView.getCString(messagePointer);
  c.sp_free_error_message(messagePointer);
  return new SerialPortError(`${call}: ${message} (${summary})`, { code, errno });
}

function check(call: string, result: number): number {
  if (result < 0) throw spError(call, result);
  return result;
}

function optionalString(pointer: Deno.PointerValue): string | null {
  return pointer === null ? null : Deno.UnsafePointerView.getCString(pointer);
}

function outPointer(out: BigUint64Array): Deno.PointerObject {
  const pointer = Deno.UnsafePointer.create(out[0]);
  if (pointer === null) {
    throw new SerialPortError("libserialport returned a NULL pointer", { code: SP_ERR_MEM });
  }
  return pointer;
}

/** One serial port as enumerated by libserialport. */
export interface SerialPortInfo {
  name: string;
  description: string | null;
  transport: "native" | "usb" | "bluetooth" | "unknown";
  usbVid: number | null;
  usbPid: number | null;
  manufacturer: string | null;
  product: string | null;
  serialNumber: string | null;
}

const TRANSPORTS = ["native", "usb", "bluetooth"] as const;

/** Lists the serial ports of this machine (pseudo-terminals are not listed). */
export function listSerialPorts(): SerialPortInfo[] {
  const c = sp();
  const out = new BigUint64Array(1);
  check("sp_list_ports", c.sp_list_ports(out));
  const list = outPointer(out);
  try {
    const view = new Deno.UnsafePointerView(list);
    const ports: SerialPortInfo[] = [];
    for (let index = 0;; index++) {
      const port = view.getPointer(index * 8);
      if (port === null) return ports;
      ports.push(describePort(port));
    }
  } finally {
    // Every string read above belongs to the list, so it is freed only after all were copied.
    c.sp_free_port_list(list);
  }
}

function describePort(port: Deno.PointerObject): SerialPortInfo {
  const c = sp();
  const transport = TRANSPORTS[c.sp_get_port_transport(port)] ?? "unknown";
  const vid = new Int32Array(1);
  const pid = new Int32Array(1);
  const isUsb = transport === "usb" && c.sp_get_port_usb_vid_pid(port, vid, pid) >= 0;
  return {
    name: optionalString(c.sp_get_port_name(port)) ?? "",
    description: optionalString(c.sp_get_port_description(port)),
    transport,
    usbVid: isUsb ? vid[0] : null,
    usbPid: isUsb ? pid[0] : null,
    manufacturer: optionalString(c.sp_get_port_usb_manufacturer(port)),
    product: optionalString(c.sp_get_port_usb_product(port)),
    serialNumber: optionalString(c.sp_get_port_usb_serial(port)),
  };
}

/** How a port was obtained, which decides how it is released. */
type PortOwnership =
  | { kind: "opened" }
  | { kind: "adopted"; fd: number; struct: Uint8Array; nameBuffer: Uint8Array };

function newEventSet(port: Deno.PointerObject, mask: number): Deno.PointerObject {
  const c = sp();
  const out = new BigUint64Array(1);
  check("sp_new_event_set", c.sp_new_event_set(out));
  const set = outPointer(out);
  const added = c.sp_add_port_events(set, port, mask);
  if (added < 0) {
    const error = spError("sp_add_port_events", added);
    c.sp_free_event_set(set);
    throw error;
  }
  return set;
}

/**
 * A serial port as a byte transport (structurally a `ByteTransport`).
 *
 * Only one `read()` may be in flight at a time (a second one rejects): reads share one buffer and
 * a serial stream has one consumer. Writes may overlap a read and are queued in call order. After
 * a hang-up the first read resolves `null` at once; later reads idle for `waitMs` and resolve
 * `null`, so a caller that keeps polling does not spin.
 */
export class SerialPort {
  readonly name: string;
  readonly #port: Deno.PointerObject;
  readonly #ownership: PortOwnership;
  readonly #rxEvents: Deno.PointerObject;
  readonly #txEvents: Deno.PointerObject;
  readonly #readBuffer = new Uint8Array(READ_BUFFER_BYTES);
  #hungUp = false;
  readonly #gate: IoGate;

  private constructor(name: string, port: Deno.PointerObject, ownership: PortOwnership) {
    this.name = name;
    this.#gate = new IoGate(name);
    this.#port = port;
    this.#ownership = ownership;
    this.#rxEvents = newEventSet(port, SP_EVENT_RX_READY | SP_EVENT_ERROR);
    try {
      this.#txEvents = newEventSet(port, SP_EVENT_TX_READY | SP_EVENT_ERROR);
    } catch (error) {
      sp().sp_free_event_set(this.#rxEvents);
      throw error;
    }
  }

  /**
   * Opens a serial device (symlinks such as `/dev/serial/by-id/…` are resolved by libserialport)
   * at 115200 baud 8N1 without flow control.
   */
  static open(path: string): SerialPort {
    const c = sp();
    const out = new BigUint64Array(1);
    const found = c.sp_get_port_by_name(new TextEncoder().encode(`${path}\0`), out);
    if (found < 0) throw withPath(spError("sp_get_port_by_name", found), path);
    const port = outPointer(out);
    let opened = false;
    try {
      check("sp_open", c.sp_open(port, SP_MODE_READ_WRITE));
      opened = true;
      check("sp_set_baudrate", c.sp_set_baudrate(port, BAUD_RATE));
      check("sp_set_bits", c.sp_set_bits(port, DATA_BITS));
      check("sp_set_parity", c.sp_set_parity(port, SP_PARITY_NONE));
      check("sp_set_stopbits", c.sp_set_stopbits(port, STOP_BITS));
      check("sp_set_flowcontrol", c.sp_set_flowcontrol(port, SP_FLOWCONTROL_NONE));
      return new SerialPort(path, port, { kind: "opened" });
    } catch (error) {
      if (opened) c.sp_close(port);
      c.sp_free_port(port);
      throw error instanceof SerialPortError ? withPath(error, path) : error;
    }
  }

  /**
   * Wraps an already-open fd (e.g. a pty slave, which libserialport cannot open by name) in a
   * hand-built `struct sp_port` holding only the name and fd. Line settings are left alone, and
   * `close()` closes the fd with libc. Relies on the private struct layout of libserialport
   * 0.1.1/0.1.2 on 64-bit Unix, so it is meant for tests and the simulator.
   */
  static adoptFd(fd: number, name: string): SerialPort {
    const nameBuffer = new TextEncoder().encode(`${name}\0`);
    const struct = new Uint8Array(PORT_STRUCT_BYTES);
    const view = new DataView(struct.buffer);
    view.setBigUint64(0, Deno.UnsafePointer.value(Deno.UnsafePointer.of(nameBuffer)), true);
    view.setInt32(PORT_STRUCT_FD_OFFSET, fd, true);
    const port = Deno.UnsafePointer.of(struct);
    if (port === null) {
      throw new SerialPortError("cannot address the port struct", { code: SP_ERR_MEM });
    }
    // The buffers are kept on the instance: C holds raw pointers into them.
    return new SerialPort(name, port, { kind: "adopted", fd, struct, nameBuffer });
  }

  /** False once `close()` was called. */
  get isOpen(): boolean {
    return this.#gate.isOpen;
  }

  /**
   * Waits at most `waitMs` for data. Resolves with the bytes (empty on timeout) or `null` once the
   * device hung up (also when closed while waiting); rejects on other errors.
   */
  read(waitMs: number): Promise<Uint8Array | null> {
    return this.#gate.read(() => this.#readOnce(waitMs));
  }

  async #readOnce(waitMs: number): Promise<Uint8Array | null> {
    if (this.#hungUp) {
      // sp_wait returns at once on a hung-up fd; idling keeps a polling caller off the CPU.
      await this.#gate.idle(waitMs);
      return null;
    }
    const c = sp();
    // sp_wait treats 0 as "wait forever", so a zero wait skips it and only reads what is there.
    const waitRounded = Math.ceil(waitMs);
    if (waitRounded > 0) {
      const waited = await c.sp_wait(this.#rxEvents, waitRounded);
      if (!this.isOpen) return null;
      if (waited < 0) this.#throwAfterAsyncFailure("sp_wait", waited);
    }
    const count = c.sp_nonblocking_read(this.#port, this.#readBuffer, BigInt(READ_BUFFER_BYTES));
    if (count > 0) return this.#readBuffer.slice(0, count);
    if (count < 0) {
      const error = spError(`sp_nonblocking_read ${this.name}`, count);
      if (error.errno !== EIO) throw error;
      this.#hungUp = true;
      return null;
    }
    // 0 bytes is both "nothing yet" and EOF after a hang-up; only the latter fails this probe.
    if (c.sp_input_waiting(this.#port) < 0) {
      this.#hungUp = true;
      return null;
    }
    return new Uint8Array(0);
  }

  /**
   * A nonblocking call failed on a worker thread whose errno is out of reach: repeat a synchronous
   * probe and report its error, or the bare return code if the probe succeeds.
   */
  #throwAfterAsyncFailure(call: string, code: number): never {
    const probe = sp().sp_input_waiting(this.#port);
    if (probe < 0) throw spError(`${call} ${this.name}`, probe);
    const summary = RETURN_CODE_TEXT[code] ?? `libserialport returned ${code}`;
    throw new SerialPortError(`${call} ${this.name}: ${summary}`, { code });
  }

  /** Writes all bytes; rejects with {@link SerialPortError} when the device is gone (EIO). */
  write(bytes: Uint8Array): Promise<void> {
    return this.#gate.write(() => this.#writeAll(bytes));
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    const c = sp();
    let offset = 0;
    while (offset < bytes.length) {
      if (!this.isOpen) throw new Error(`${this.name}: write after close`);
      const chunk = bytes.subarray(offset);
      const count = c.sp_nonblocking_write(this.#port, chunk, BigInt(chunk.length));
      if (count < 0) throw spError(`sp_nonblocking_write ${this.name}`, count);
      offset += count;
      if (offset < bytes.length) {
        const waited = await c.sp_wait(this.#txEvents, WRITE_WAIT_MS);
        if (waited < 0) this.#throwAfterAsyncFailure("sp_wait", waited);
      }
    }
  }

  /**
   * Releases the port: waits for a pending read and queued writes (each bounded by its wait),
   * then frees the event sets and closes the port. Idempotent.
   */
  close(): Promise<void> {
    return this.#gate.close(() => this.#release());
  }

  #release(): void {
    const c = sp();
    c.sp_free_event_set(this.#rxEvents);
    c.sp_free_event_set(this.#txEvents);
    if (this.#ownership.kind === "adopted") {
      // The struct is ours, not libserialport's: close the fd directly and never sp_free_port it.
      closeFd(this.#ownership.fd);
      return;
    }
    const closed = c.sp_close(this.#port);
    const error = closed < 0 ? spError(`sp_close ${this.name}`, closed) : null;
    c.sp_free_port(this.#port);
    if (error) throw error;
  }
}

function withPath(error: SerialPortError, path: string): SerialPortError {
  error.message = `${path}: ${error.message}`;
  return error;
}
