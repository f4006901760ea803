/**
 * Password hashing one at a time. One scrypt call holds 32 MiB for ~50 ms; letting every login
 * request hash at once took the process to 1 GB. At most `HASH_CONCURRENCY` run, at most
 * `HASH_QUEUE_MAX` wait, and anything beyond is refused at once with `HashingBusyError` (the
 * caller answers 503 + Retry-After) instead of joining a queue that grows.
 *
 * @module
 */

/**
 * Hashes running at once (process-wide: the memory is the process's). One: with two, a login
 * flood took the gateway from ~100 MB to 171 MB, over its 150 MB ceiling; with one a legitimate
 * sign-in waits at most a few hashes (~50 ms each), while the flood is refused by the rate limit.
 */
export const HASH_CONCURRENCY = 1;
/** Hashes waiting for a slot; one more is refused. */
export const HASH_QUEUE_MAX = 4;
/** What a refused caller is told to wait: a few hash durations. */
export const HASH_BUSY_RETRY_AFTER_S = 2;

/** Thrown when every slot and queue place is taken. */
export class HashingBusyError extends Error {
  constructor() {
    super("password hashing is at capacity");
    this.name = "HashingBusyError";
  }
}

let running = 0;
const waiting: (() => void)[] = [];

/** Runs `work` in a hashing slot, waiting in the short queue if needed. */
export async function withHashSlot<T>(work: () => Promise<T>): Promise<T> {
  if (running < HASH_CONCURRENCY) {
    running++;
  } else if (waiting.length < HASH_QUEUE_MAX) {
    // The finishing hash hands its slot straight to us, so `running` does not change.
    await new Promise<void>((resolve) => waiting.push(resolve));
  } else {
    throw new HashingBusyError();
  }
  try {
    return await work();
  } finally {
    const next = waiting.shift();
    if (next === undefined) running--;
    else next();
  }
}
