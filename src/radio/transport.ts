/**
 * The transport layer: a byte pipe to a radio, independent of what the bytes mean.
 *
 * Implemented over libserialport (`ffi/libserialport.ts`) for real sticks and adopted
 * pseudo-terminal fds, and over a pseudo-terminal master (`ffi/libc.ts`) for the simulator side.
 *
 * @module
 */

/** A byte pipe that reports a hang-up instead of spinning on it. */
export interface ByteTransport {
  /** Human-readable name (device path). */
  readonly name: string;
  /**
   * Waits at most `waitMs` for data. Resolves with the bytes read (possibly empty on timeout),
   * or `null` once the other side hung up (unplug, closed master). Never rejects on hang-up.
   */
  read(waitMs: number): Promise<Uint8Array | null>;
  /** Writes all bytes; rejects with a descriptive error when the device is gone. */
  write(bytes: Uint8Array): Promise<void>;
  /** Releases the device. Idempotent; never hangs (waits for a pending read to settle). */
  close(): Promise<void>;
}
