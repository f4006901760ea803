/**
 * The gateway's allocator environment (`src/cli/malloc_env.ts`): a Deno process started with it
 * allocates from one glibc arena, where one started without it has an arena per allocating thread;
 * and the demo task and the systemd unit set it.
 */
import assert from "node:assert/strict";
import { GATEWAY_MALLOC_ENV } from "../../src/cli/malloc_env.ts";

const ROOT = new URL("../../", import.meta.url);

/** The glibc arenas a Deno process has after some file I/O and JIT work, from `malloc_stats`. */
async function arenasAfterWork(env: Record<string, string>): Promise<number> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `const libc = Deno.dlopen("libc.so.6", { malloc_stats: { parameters: [], result: "void" } });
      for (let i = 0; i < 20; i++) await Deno.readTextFile(${JSON.stringify(import.meta.filename)});
      let total = 0;
      for (let i = 0; i < 2_000_000; i++) total += JSON.stringify({ i }).length;
      await new Promise((resolve) => setTimeout(resolve, 200));
      libc.symbols.malloc_stats();`,
    ],
    // Only what is given: a MALLOC_ARENA_MAX in the test runner's own environment must not leak in.
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? "", ...env },
    stdout: "null",
    stderr: "piped",
  }).output();
  const stats = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, stats);
  return stats.match(/^Arena \d+:$/gm)?.length ?? 0;
}

Deno.test("MALLOC_ARENA_MAX from the gateway's environment leaves Deno's threads one arena", async () => {
  const byDefault = await arenasAfterWork({});
  assert.ok(byDefault > 1, `${byDefault} arenas without it: the probe sees no threads' arenas`);
  assert.equal(await arenasAfterWork({ ...GATEWAY_MALLOC_ENV }), 1);
});

Deno.test("the demo task and the systemd unit start the gateway with its allocator environment", async () => {
  const tasks = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))).tasks;
  const unit = await Deno.readTextFile(new URL("deploy/openseg.service", ROOT));
  for (const [name, value] of Object.entries(GATEWAY_MALLOC_ENV)) {
    assert.ok(tasks.demo.includes(` ${name}=${value} ./node_modules/.bin/deno run `), tasks.demo);
    assert.ok(unit.split("\n").includes(`Environment=${name}=${value}`), unit);
  }
});
