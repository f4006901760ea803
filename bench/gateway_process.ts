/**
 * Shared by the benchmarks that measure a real `openseg` process from outside: starting
 * `openseg serve` and the one-shot CLI commands with the gateway's own permissions, and reading a
 * process's resident memory and open descriptors from `/proc` (Deno grants `/proc/<pid>` only to
 * `--allow-all`, so the benchmarks reading it run with `-A`).
 *
 * @module
 */

import { v8FlagsArgument } from "../src/cli/v8_flags.ts";
import { GATEWAY_MALLOC_ENV } from "../src/cli/malloc_env.ts";

/** `main.ts` of this checkout. */
export const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** The permissions `deno task start` gives the gateway, and its V8 memory flags. */
export const GATEWAY_FLAGS = [
  "--allow-ffi",
  "--allow-env",
  "--allow-read",
  "--allow-write",
  "--allow-net=127.0.0.1",
  v8FlagsArgument(),
];

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** VmRSS and VmHWM (peak) of a process, in MB. */
export function memoryMb(pid: number): { rssMb: number; peakMb: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (key: string) => Number(status.match(new RegExp(`${key}:\\s+(\\d+) kB`))?.[1] ?? 0);
  return { rssMb: kb("VmRSS") / 1024, peakMb: kb("VmHWM") / 1024 };
}

/** How many file descriptors a process holds open (sockets included). */
export function openFds(pid: number): number {
  let count = 0;
  for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) count++;
  return count;
}

/** Options of `startServe`. */
export interface ServeProcessOptions {
  dbPath: string;
  /** `HOST:PORT` for `--listen`. */
  listen: string;
  /** Further `serve` options, e.g. `["--simulate", "--meters", "4"]`. */
  args: string[];
  /** What happens to the gateway's console log (default: discarded). */
  stdout?: "null" | "inherit";
  stderr?: "null" | "inherit" | "piped";
  /** A release bundle (`packaging/bundle.sh`) to run instead of `main.ts`, as the binary does. */
  bundle?: string;
}

/** Starts `openseg serve --quiet` in its own process on `dbPath`, with the gateway's environment. */
export function startServe(options: ServeProcessOptions): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...GATEWAY_FLAGS,
      ...(options.bundle === undefined ? [MAIN] : ["--no-config", options.bundle]),
      "serve",
      "--quiet",
      "--db",
      options.dbPath,
      "--listen",
      options.listen,
      ...options.args,
    ],
    env: { ...GATEWAY_MALLOC_ENV },
    stdin: "null",
    stdout: options.stdout ?? "null",
    stderr: options.stderr ?? "inherit",
  }).spawn();
}

/** Runs one `openseg` command (e.g. `apps add`) with `stdin`; returns stdout, throws on failure. */
export async function openseg(args: string[], stdin = ""): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...GATEWAY_FLAGS, MAIN, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  await ReadableStream.from([new TextEncoder().encode(stdin)]).pipeTo(child.stdin);
  const result = await child.output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  if (!result.success) throw new Error(`openseg ${args.join(" ")}: ${text(result.stderr)}`);
  return text(result.stdout);
}

/** A TCP port on 127.0.0.1 that was free a moment ago (for `--listen`, which needs a number). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Polls `url` until it answers 200; throws after `timeoutMs` or when `child` exits first. */
export async function waitUntilServing(
  url: string,
  child: Deno.ChildProcess,
  timeoutMs = 60_000,
): Promise<void> {
  let exited = false;
  child.status.then(() => exited = true);
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (exited) throw new Error("the gateway exited before it served");
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await response.body?.cancel();
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await sleep(250);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
}

/**
 * Waits until the simulated meter has backfilled and reads in real time: its latest demand is
 * at most `liveWithinMs` old (asked with an app's token), for at most `timeoutMs`.
 */
export async function waitUntilLive(
  url: string,
  token: string,
  options: { liveWithinMs: number; timeoutMs: number },
): Promise<void> {
  const deadline = performance.now() + options.timeoutMs;
  while (performance.now() < deadline) {
    const response = await fetch(`${url}/graphql`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: "{ meters { demand { at } } }" }),
    });
    const at = (await response.json()).data?.meters?.[0]?.demand?.at;
    if (at !== undefined && Date.now() - Date.parse(at) < options.liveWithinMs) return;
    await sleep(1000);
  }
  throw new Error(
    `the simulated meter did not catch up with the present in ${options.timeoutMs / 1000} s`,
  );
}
