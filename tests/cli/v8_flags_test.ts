/**
 * The gateway's V8 memory flags (`src/cli/v8_flags.ts`): this V8 accepts them, and every way of
 * starting the gateway passes the same ones.
 */
import assert from "node:assert/strict";
import { GATEWAY_V8_FLAGS, v8FlagsArgument } from "../../src/cli/v8_flags.ts";

const ROOT = new URL("../../", import.meta.url);

/** Heap MB after building and dropping twenty 100 000-object arrays, under `flags`. */
async function heapAfterChurnMb(flags: string[]): Promise<number> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      ...flags,
      "let keep = []; for (let r = 0; r < 20; r++) { keep = []; " +
      'for (let i = 0; i < 100_000; i++) keep.push({ i, s: "x" + i }); } keep = null; ' +
      "console.log(Deno.memoryUsage().heapTotal / 1048576)",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  // An unknown or malformed flag makes Deno exit before running anything.
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  return Number(new TextDecoder().decode(output.stdout));
}

Deno.test("this Deno's V8 accepts the gateway's flags, and they keep a churning heap small", async () => {
  // V8's defaults let the heap grow to 75-95 MB for this garbage; the small young generation
  // collects it while it is still a few MB (15-25 MB in all). A busy machine delays V8's
  // concurrent collector and the heap grows further (34 MB seen in CI), so the flags' best of
  // three runs is compared with the defaults, and no absolute size is asserted.
  const withFlags = Math.min(
    await heapAfterChurnMb([v8FlagsArgument()]),
    await heapAfterChurnMb([v8FlagsArgument()]),
    await heapAfterChurnMb([v8FlagsArgument()]),
  );
  const withDefaults = await heapAfterChurnMb([]);
  assert.ok(withFlags < withDefaults / 2, `${withFlags} MB vs ${withDefaults} MB by default`);
});

Deno.test("deno task demo and the compiled binary pass the same V8 flags as deno task start", async () => {
  assert.deepEqual(GATEWAY_V8_FLAGS, [
    "--max-semi-space-size=1",
    "--optimize-for-size",
    "--expose-gc",
    "--no-sparkplug",
  ]);
  const tasks = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))).tasks;
  assert.ok(tasks.demo.includes(` ${v8FlagsArgument()} main.ts serve`), tasks.demo);
  const compile = await Deno.readTextFile(new URL("packaging/compile.sh", ROOT));
  assert.ok(compile.includes(`  ${v8FlagsArgument()} \\\n`), "compile.sh bakes the flags in");
});
