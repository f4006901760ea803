/**
 * glibc's `malloc_trim(0)` over Deno FFI: gives the free pages inside the C heap back to the
 * system. Deno's native side (sockets, HTTP connections, array buffers) allocates with glibc
 * malloc; after 1 000 connections close, most of that memory is free but stays resident, because
 * one live allocation near the top of the heap keeps glibc from shrinking it. `malloc_trim`
 * returns every free page anywhere in the heap (`MADV_DONTNEED`), which nothing else does.
 *
 * Linux/glibc only, like `libc.ts`; elsewhere (or without `--allow-ffi`) `openMallocTrim` says so
 * with null.
 *
 * @module
 */

const LIBC_PATH = "libc.so.6";

/** Releases free C-heap memory; true when some was given back. */
export type MallocTrim = () => boolean;

/** `malloc_trim` from this process's libc, or null where it is not available. */
export function openMallocTrim(): MallocTrim | null {
  if (Deno.build.os !== "linux") return null;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return null;
  let library: Deno.DynamicLibrary<{ malloc_trim: { parameters: ["usize"]; result: "i32" } }>;
  try {
    library = Deno.dlopen(
      LIBC_PATH,
      {
        malloc_trim: { parameters: ["usize"], result: "i32" },
      } as const,
    );
  } catch {
    // Not glibc (musl has no malloc_trim).
    return null;
  }
  return () => library.symbols.malloc_trim(0n) === 1;
}
