/**
 * One style of storage access: no file under `src/` prepares a statement itself; every SQL text
 * goes through the statement cache (`src/store/statements.ts`), the one module that calls
 * `prepare`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { dirname, join, normalize, relative } from "node:path";

const ROOT = normalize(join(dirname(new URL(import.meta.url).pathname), "..", ".."));
/** The files allowed to call `prepare`: the cache itself. */
const ALLOWED = new Set(["src/store/statements.ts"]);
const PREPARE = /\.prepare\s*\(/;

async function* typescriptFiles(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* typescriptFiles(path);
    else if (entry.isFile && entry.name.endsWith(".ts")) yield path;
  }
}

Deno.test("only the statement cache calls prepare", async () => {
  const offenders: string[] = [];
  let scanned = 0;
  for await (const file of typescriptFiles(join(ROOT, "src"))) {
    scanned++;
    const path = relative(ROOT, file);
    if (ALLOWED.has(path)) continue;
    const lines = (await Deno.readTextFile(file)).split("\n");
    lines.forEach((line, index) => {
      if (PREPARE.test(line)) offenders.push(`${path}:${index + 1}: ${line.trim()}`);
    });
  }
  // The walk found the store, so an empty list is not a wrong root.
  assert.ok(scanned > 100, `scanned only ${scanned} files`);
  assert.deepEqual(offenders, [], "use statement()/get()/all() from src/store/statements.ts");
});

Deno.test("the cache module itself still prepares (the allow-list is not stale)", async () => {
  for (const path of ALLOWED) {
    assert.match(await Deno.readTextFile(join(ROOT, path)), PREPARE, path);
  }
});
