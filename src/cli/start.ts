/**
 * `deno task start`: runs `openseg serve` from the sources with the least permissions its options
 * need, the gateway's V8 memory flags (`v8_flags.ts`) and its allocator environment
 * (`malloc_env.ts`). The network permission is derived from `--listen` and `--mqtt-url` (or
 * `OPENSEG_LISTEN`, `OPENSEG_MQTT_URL`, `--config`), so `deno task start --listen 0.0.0.0:8080`
 * works as written and grants that address and nothing else; files and FFI are granted as the
 * `start` task always did.
 *
 * Run: `deno run --allow-run --allow-read --allow-env src/cli/start.ts [serve options]`
 *
 * @module
 */

import { servePermissionNeedsFor } from "./permissions.ts";
import { UsageError } from "../config/usage_error.ts";
import { v8FlagsArgument } from "./v8_flags.ts";
import { GATEWAY_MALLOC_ENV } from "./malloc_env.ts";

const MAIN_PATH = new URL("../../main.ts", import.meta.url).pathname;
const FIXED_PERMISSIONS = ["--allow-ffi", "--allow-env", "--allow-read", "--allow-write"];

/** The `deno run` permission flags for `openseg serve args`. */
export function startPermissions(
  args: string[],
  env: Record<string, string | undefined>,
): string[] {
  const hosts = servePermissionNeedsFor(args, env)
    .flatMap((need) => need.descriptors)
    .flatMap((descriptor) => descriptor.name === "net" && descriptor.host ? [descriptor.host] : []);
  return [...FIXED_PERMISSIONS, `--allow-net=${[...new Set(hosts)]}`];
}

async function start(args: string[]): Promise<number> {
  let permissions: string[];
  try {
    permissions = startPermissions(args, Deno.env.toObject());
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`openseg serve: ${error.message}`);
    return 2;
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, v8FlagsArgument(), MAIN_PATH, "serve", ...args],
    env: { ...GATEWAY_MALLOC_ENV },
    stdin: "inherit",
  }).spawn();
  // Ctrl-C reaches the child from the terminal already; a second SIGINT would cut its shutdown.
  Deno.addSignalListener("SIGINT", () => {});
  Deno.addSignalListener("SIGTERM", () => child.kill("SIGTERM"));
  return (await child.status).code;
}

if (import.meta.main) {
  Deno.exit(await start(Deno.args));
}
