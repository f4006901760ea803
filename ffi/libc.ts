/**
 * libc over Deno FFI: pseudo-terminal pairs and nonblocking fd I/O.
 *
 * The simulator plays the radio on a pty master while the gateway reads the slave, and the tests
 * use the same pairs to stand in for a USB stick (closing the master hangs up the slave, like an
 * unplug). Linux/glibc (x86_64) only: flag values and the termios size are that ABI's.
 *
 * @module
 */

import { IoGate } from "./io_gate.ts";

const LIBC_PATH = "libc.so.6";

const O_RDWR = 0o2;
const O_NOCTTY = 0o400;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;

const POLLIN = 0x1;
const POLLOUT = 0x4;
const POLLERR = 0x8;
const POLLHUP = 0x10;
const POLLNVAL = 0x20;

const EINTR = 4;
const EIO = 5;
const EBADF = 9;
const EAGAIN = 11;

const TCSANOW = 0;
/** glibc's `struct termios` is 60 bytes on x86_64; a little slack costs nothing. */
const TERMIOS_BYTES = 64;
const PTS_NAME_BYTES = 128;
const READ_BUFFER_BYTES = 64 * 1024;
/** How often a read re-polls while the peer is away, so a (re)connecting peer is noticed. */
const IDLE_SLICE_MS = 20;

const LIBC_SYMBOLS = {
  posix_openpt: { parameters: ["i32"], result: "i32" },
  grantpt: { parameters: ["i32"], result: "i32" },
  unlockpt: { parameters: ["i32"], result: "i32" },
  ptsname_r: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  tcgetattr: { parameters: ["i32", "buffer"], result: "i32" },
  cfmakeraw: { parameters: ["buffer"], result: "void" },
  tcsetattr: { parameters: ["i32", "i32", "buffer"], result: "i32" },
  open: { parameters: ["buffer", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  // Waiting must not block the event loop, so the waiting variant runs on a worker thread.
  pollWait: {
    name: "poll",
    parameters: ["buffer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
} as const;

type LibcSymbols = Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"];

let loaded: LibcSymbols | undefined;

/** Opens libc on first use so that importing this module needs no `--allow-ffi`. */
function libc(): LibcSymbols {
  loaded ??= Deno.dlopen(LIBC_PATH, LIBC_SYMBOLS).symbols;
  return loaded;
}

/** A failed libc call, with the `strerror` text of its errno. */
export class LibcError extends Error {
  readonly errno: number;

  constructor(call: string, errno: number) {
    super(`${call}: ${errnoText(errno)} (errno ${errno})`);
    this.name = "LibcError";
    this.errno = errno;
  }
}

/**
 * The calling thread's errno. Only meaningful right after a failed synchronous FFI call: errno is
 * thread-local and nonblocking calls run on another thread.
 */
export function lastErrno(): number {
  const location = libc().__errno_location();
  return location === null ? 0 : new Deno.UnsafePointerView(location).getInt32();
}

/** `strerror(errno)` as a JavaScript string. */
export function errnoText(errno: number): string {
  const text = libc().strerror(errno);
  return text === null ? `errno ${errno}` : Deno.UnsafePointerView.getCString(text);
}

/** Closes a file descriptor opened in C (Deno's resource table does not know it). */
export function closeFd(fd: number): void {
  if (libc().close(fd) < 0) throw new LibcError("close", lastErrno());
}

/** A C string argument (NUL-terminated UTF-8). */
function cString(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${text}\0`);
}

/** A one-entry `struct pollfd` (int fd, short events, short revents). */
function pollFdStruct(fd: number, events: number): Uint8Array<ArrayBuffer> {
  const struct = new Uint8Array(8);
  const view = new DataView(struct.buffer);
  view.setInt32(0, fd, true);
  view.setInt16(4, events, true);
  return struct;
}

function reventsOf(struct: Uint8Array<ArrayBuffer>): number {
  return new DataView(struct.buffer).getUint16(6, true);
}

/** Polls without waiting; returns `revents`. */
function pollNow(fd: number, events: number): number {
  const struct = pollFdStruct(fd, events);
  for (;;) {
    if (libc().poll(struct, 1n, 0) >= 0) return reventsOf(struct);
    const errno = lastErrno();
    if (errno !== EINTR) throw new LibcError("poll", errno);
  }
}

/** Waits up to `waitMs` for `events` on `fd` without blocking the event loop; returns `revents`. */
async function pollFor(fd: number, events: number, waitMs: number): Promise<number> {
  const struct = pollFdStruct(fd, events);
  const result = await libc().pollWait(struct, 1n, Math.max(0, Math.ceil(waitMs)));
  // errno of the worker thread is out of reach; a synchronous retry reports it (EINTR included).
  return result < 0 ? pollNow(fd, events) : reventsOf(struct);
}

/**
 * Options for {@link FdTransport}.
 */
export interface FdTransportOptions {
  /** An open file descriptor with `O_NONBLOCK` set; the transport owns it and closes it. */
  fd: number;
  /** Human-readable name (device path). */
  name: string;
  /**
   * Whether the other side is known to have been connected. While false, a hang-up is taken to
   * mean "nobody connected yet" and reads idle instead of resolving `null`. Default true.
   */
  peerSeen?: boolean;
}

/**
 * A byte transport over a nonblocking fd: `poll` (on a worker thread) then `read`/`write`.
 *
 * One read and one write may be in flight at a time; a second concurrent `read()` rejects, and
 * writes are queued in call order. A hang-up resolves a read with `null` once; while it lasts,
 * further reads re-poll every 20 ms until `waitMs` is up and then resolve `null`,
 * so a caller that keeps reading does not spin, and a peer that reconnects is noticed.
 */
export class FdTransport {
  readonly name: string;
  readonly #fd: number;
  readonly #readBuffer = new Uint8Array(READ_BUFFER_BYTES);
  #peerSeen: boolean;
  #hangUpReported = false;
  readonly #gate: IoGate;

  constructor(options: FdTransportOptions) {
    this.#fd = options.fd;
    this.name = options.name;
    this.#gate = new IoGate(options.name);
    this.#peerSeen = options.peerSeen ?? true;
  }

  /** False once `close()` was called. */
  get isOpen(): boolean {
    return this.#gate.isOpen;
  }

  /** Records that the other side has been connected, so its hang-up is reported from now on. */
  protected markPeerSeen(): void {
    this.#peerSeen = true;
  }

  /**
   * Waits at most `waitMs` for data. Resolves with the bytes (empty on timeout) or `null` on
   * hang-up, also when the transport is closed while the read waits.
   */
  read(waitMs: number): Promise<Uint8Array | null> {
    return this.#gate.read(() => this.#readOnce(waitMs));
  }

  async #readOnce(waitMs: number): Promise<Uint8Array | null> {
    const deadline = performance.now() + waitMs;
    for (;;) {
      const remainingMs = Math.max(0, deadline - performance.now());
      const revents = await pollFor(this.#fd, POLLIN, remainingMs);
      if (!this.isOpen) return null;
      if (revents & POLLNVAL) throw new LibcError(`poll ${this.name}`, EBADF);
      let hungUp = (revents & (POLLHUP | POLLERR)) !== 0;
      if (revents & POLLIN) {
        const count = Number(libc().read(this.#fd, this.#readBuffer, BigInt(READ_BUFFER_BYTES)));
        if (count > 0) {
          this.#peerSeen = true;
          this.#hangUpReported = false;
          return this.#readBuffer.slice(0, count);
        }
        const errno = count < 0 ? lastErrno() : EIO;
        if (errno !== EIO && errno !== EAGAIN && errno !== EINTR) {
          throw new LibcError(`read ${this.name}`, errno);
        }
        // A pty master reads EIO (a slave reads EOF) once the other side is gone.
        hungUp ||= errno === EIO;
      }
      if (hungUp && this.#peerSeen && !this.#hangUpReported) {
        this.#hangUpReported = true;
        return null;
      }
      const leftMs = deadline - performance.now();
      if (leftMs <= 0) return hungUp && this.#hangUpReported ? null : new Uint8Array(0);
      // poll returns at once on a hung-up fd: idle a slice instead of spinning on it.
      if (hungUp) await this.#gate.idle(Math.min(leftMs, IDLE_SLICE_MS));
    }
  }

  /** Writes all bytes, waiting for buffer space; rejects with {@link LibcError} on hang-up. */
  write(bytes: Uint8Array): Promise<void> {
    return this.#gate.write(() => this.#writeAll(bytes));
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      if (!this.isOpen) throw new Error(`${this.name}: write after close`);
      // Writes into a hung-up pty master still succeed (and vanish), so ask poll first.
      if (this.#peerSeen && (pollNow(this.#fd, POLLOUT) & POLLHUP) !== 0) {
        throw new LibcError(`write ${this.name}`, EIO);
      }
      const chunk = bytes.subarray(offset);
      const count = Number(libc().write(this.#fd, chunk, BigInt(chunk.length)));
      if (count >= 0) {
        offset += count;
        continue;
      }
      const errno = lastErrno();
      if (errno === EAGAIN) {
        await pollFor(this.#fd, POLLOUT, IDLE_SLICE_MS * 5);
      } else if (errno !== EINTR) {
        throw new LibcError(`write ${this.name}`, errno);
      }
    }
  }

  /** Closes the fd after a pending read and queued writes settle (both are bounded). */
  close(): Promise<void> {
    return this.#gate.close(() => closeFd(this.#fd));
  }
}

/**
 * A pseudo-terminal pair in raw mode. The object is the master side as a byte transport; the
 * slave is what the gateway opens (by fd via {@link PseudoTerminal.openSlaveFd}, as libserialport
 * cannot open ptys by name).
 */
export class PseudoTerminal extends FdTransport {
  readonly slavePath: string;
  readonly masterFd: number;

  private constructor(masterFd: number, slavePath: string) {
    // A fresh master reads EAGAIN, but one whose slave was opened and closed reads EIO: only the
    // second is a hang-up, hence peerSeen starts false.
    super({ fd: masterFd, name: slavePath, peerSeen: false });
    this.masterFd = masterFd;
    this.slavePath = slavePath;
  }

  /** Allocates a pty pair and puts it in raw mode (no CR/LF translation, no echo). */
  static open(): PseudoTerminal {
    const c = libc();
    // O_NONBLOCK so a full pty buffer makes write() wait in poll, not block the event loop.
    const masterFd = c.posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (masterFd < 0) throw new LibcError("posix_openpt", lastErrno());
    try {
      if (c.grantpt(masterFd) < 0) throw new LibcError("grantpt", lastErrno());
      if (c.unlockpt(masterFd) < 0) throw new LibcError("unlockpt", lastErrno());
      const nameBuffer = new Uint8Array(PTS_NAME_BYTES);
      const nameErrno = c.ptsname_r(masterFd, nameBuffer, BigInt(PTS_NAME_BYTES));
      if (nameErrno !== 0) throw new LibcError("ptsname_r", nameErrno);
      const slavePath = new TextDecoder().decode(nameBuffer.subarray(0, nameBuffer.indexOf(0)));
      const termios = new Uint8Array(TERMIOS_BYTES);
      if (c.tcgetattr(masterFd, termios) < 0) throw new LibcError("tcgetattr", lastErrno());
      c.cfmakeraw(termios);
      if (c.tcsetattr(masterFd, TCSANOW, termios) < 0) {
        throw new LibcError("tcsetattr", lastErrno());
      }
      return new PseudoTerminal(masterFd, slavePath);
    } catch (error) {
      c.close(masterFd);
      throw error;
    }
  }

  /** Opens the slave side (nonblocking, close-on-exec); the caller owns the returned fd. */
  openSlaveFd(): number {
    const fd = libc().open(cString(this.slavePath), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) throw new LibcError(`open ${this.slavePath}`, lastErrno());
    this.markPeerSeen();
    return fd;
  }
}
