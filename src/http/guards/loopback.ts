/**
 * Whether a client address is this box. Per-address caps skip it: behind a reverse proxy on the
 * same box every client arrives from loopback, and one shared cap would refuse them all.
 *
 * @module
 */

/** True for `127.0.0.0/8` and `::1` (also IPv4-mapped). */
export function isLoopback(address: string): boolean {
  return address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.");
}
