/**
 * One style of storage access: no file under `src/` prepares a statement itself; every SQL text
 * goes through the statement cache (`src/store/statements.ts`), the one module that calls
 * `prepare`. Nor does code keep statements of its own, except where the list below says why.
 *
 * @module
 */

import assert from "node:assert/strict";
import { dirname, join, normalize, relative } from "node:path";

const ROOT = normalize(join(dirname(new URL(import.meta.url).pathname), "..", ".."));
const CACHE = "src/store/statements.ts";
/** Files that may hold a `StatementSync`, each taken from the cache, and why. */
const KEEPS_STATEMENTS = new Map([
  // The SQL of a 64-row insert is kilobytes; built again per chunk it would cost more than the run.
  ["src/store/batch_insert.ts", "its multi-row statements, one per row count"],
]);
const PREPARE = /\.prepare\s*\(/;
const STATEMENT_TYPE = /\bStatementSync\b/;

async function* typescriptFiles(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* typescriptFiles(path);
    else if (entry.isFile && entry.name.endsWith(".ts")) yield path;
  }
}

/** `path:line: text` of every line of a file under `src/` (but `skip`) matching `pattern`. */
async function linesMatching(pattern: RegExp, skip: (path: string) => boolean) {
  const found: string[] = [];
  let scanned = 0;
  for await (const file of typescriptFiles(join(ROOT, "src"))) {
    scanned++;
    const path = relative(ROOT, file);
    if (skip(path)) continue;
    (await Deno.readTextFile(file)).split("\n").forEach((line, index) => {
      if (pattern.test(line)) found.push(`${path}:${index + 1}: ${line.trim()}`);
    });
  }
  // The walk found the store, so an empty list is not a wrong root.
  assert.ok(scanned > 100, `scanned only ${scanned} files`);
  return found;
}

Deno.test("only the statement cache calls prepare", async () => {
  const offenders = await linesMatching(PREPARE, (path) => path === CACHE);
  assert.deepEqual(offenders, [], `use statement()/get()/all() from ${CACHE}`);
  assert.match(await Deno.readTextFile(join(ROOT, CACHE)), PREPARE, "the cache prepares");
});

Deno.test("no statement is kept outside the cache but where the list says why", async () => {
  const offenders = await linesMatching(
    STATEMENT_TYPE,
    (path) => path === CACHE || KEEPS_STATEMENTS.has(path),
  );
  assert.deepEqual(offenders, [], `take statements from ${CACHE} where they are run`);
  // The list is not stale: each file on it still keeps statements.
  for (const [path, what] of KEEPS_STATEMENTS) {
    assert.match(await Deno.readTextFile(join(ROOT, path)), STATEMENT_TYPE, `${path} (${what})`);
  }
});
