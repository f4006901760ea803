/**
 * The layers stay layers: no folder of `src/` (nor `ffi/`) imports a folder that imports it back,
 * directly or through others, and `src/http` stays a leaf toolkit that knows no feature.
 *
 * @module
 */

import assert from "node:assert/strict";
import { dirname, join, normalize, relative } from "node:path";

const ROOT = normalize(join(dirname(new URL(import.meta.url).pathname), "..", ".."));
const IMPORT = /(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g;

/** `src/<folder>` (a top-level file counts as the folder of its name), or `ffi`. */
function unitOf(path: string): string {
  const parts = relative(ROOT, path).split("/");
  if (parts[0] !== "src") return parts[0];
  return parts.length > 2 ? `src/${parts[1]}` : `src/${parts[1].replace(/\.ts$/, "")}`;
}

async function* typescriptFiles(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    // The dashboard is browser code bundled on its own; it imports nothing of the server.
    if (entry.isDirectory && entry.name !== "web") yield* typescriptFiles(path);
    else if (entry.isFile && entry.name.endsWith(".ts")) yield path;
  }
}

async function folderEdges(): Promise<Map<string, Set<string>>> {
  const edges = new Map<string, Set<string>>();
  for (const base of ["src", "ffi"]) {
    for await (const file of typescriptFiles(join(ROOT, base))) {
      for (const match of (await Deno.readTextFile(file)).matchAll(IMPORT)) {
        const from = unitOf(file);
        const to = unitOf(normalize(join(dirname(file), match[1])));
        if (from === to) continue;
        if (!edges.has(from)) edges.set(from, new Set());
        edges.get(from)!.add(to);
      }
    }
  }
  return edges;
}

function reaches(edges: Map<string, Set<string>>, from: string, to: string): boolean {
  const seen = new Set<string>();
  const todo = [from];
  while (todo.length > 0) {
    for (const next of edges.get(todo.pop()!) ?? []) {
      if (next === to) return true;
      if (!seen.has(next)) {
        seen.add(next);
        todo.push(next);
      }
    }
  }
  return false;
}

Deno.test("no folder imports a folder that imports it back", async () => {
  const edges = await folderEdges();
  assert.ok(edges.size > 5, "the import graph was read");
  const cycles = [...edges].flatMap(([from, targets]) =>
    [...targets].filter((to) => reaches(edges, to, from)).map((to) => `${from} -> ${to}`)
  );
  assert.deepEqual(cycles, []);
});

Deno.test("src/http is a leaf toolkit: it imports no feature, gateway or CLI", async () => {
  const edges = await folderEdges();
  const allowed = new Set(["src/log"]);
  assert.deepEqual([...edges.get("src/http") ?? []].filter((to) => !allowed.has(to)), []);
});
