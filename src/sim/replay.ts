/**
 * Capture replay (`serve --replay FILE`): writes a recorded device stream to a transport as-is,
 * in chunks, so the gateway sees the exact bytes a real stick once sent (junk and all).
 *
 * @module
 */

import type { ByteTransport } from "../radio/transport.ts";

export interface ReplayOptions {
  transport: ByteTransport;
  /** The capture, byte for byte. */
  bytes: Uint8Array;
  /** Bytes per write (default 64, a typical USB serial read size). */
  chunkBytes?: number;
  /** Pause after each chunk (default 0). */
  delayMs?: number;
  /** Start over at the end until `signal` aborts (default false). */
  loop?: boolean;
  /** Stops the replay between chunks; the promise then resolves. */
  signal?: AbortSignal;
}

/**
 * Writes the capture in chunks. Resolves when done or aborted; rejects when a write does (the
 * reading side hung up), so the caller can tell an early end from a complete one.
 */
export async function replayCapture(options: ReplayOptions): Promise<void> {
  const { transport, bytes, signal } = options;
  const chunkBytes = Math.max(1, options.chunkBytes ?? 64);
  const delayMs = options.delayMs ?? 0;
  if (bytes.length === 0) return;
  do {
    for (let offset = 0; offset < bytes.length; offset += chunkBytes) {
      if (signal?.aborted) return;
      await transport.write(bytes.subarray(offset, offset + chunkBytes));
      if (delayMs > 0) await pause(delayMs, signal);
    }
  } while (options.loop && !signal?.aborted);
}

/** Sleeps `ms`, cut short when `signal` aborts. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
