/**
 * `docs/cli.md`'s option reference is the option table itself: the page must equal what
 * `deno task docs:options` generates (up to the column padding `deno fmt` adds).
 *
 * @module
 */

import assert from "node:assert/strict";
import { optionTable, withOptionTables } from "../../src/cli/option_docs.ts";
import { householdsOptions } from "../../src/cli/households.ts";
import { serveOptions } from "../../src/config.ts";

/** A Markdown page with table cells trimmed and separator rows reduced, as `deno fmt` varies them. */
function unpadded(page: string): string {
  return page.split("\n").map((line) => {
    if (!line.startsWith("|")) return line;
    const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((cell) => cell.trim());
    return cells.map((cell) => /^-+$/.test(cell) ? "---" : cell).join(" | ");
  }).join("\n");
}

Deno.test("docs/cli.md lists every documented option exactly as the option tables define it", async () => {
  const page = await Deno.readTextFile(new URL("../../docs/cli.md", import.meta.url));
  assert.equal(unpadded(page), unpadded(withOptionTables(page)), "run: deno task docs:options");
  for (const spec of Object.values(serveOptions)) assert.ok(page.includes(`\`--${spec.flag}`));
  for (const spec of Object.values(householdsOptions)) {
    assert.ok(page.includes(`\`--${spec.flag}`), spec.flag);
  }
});

Deno.test("the generated table escapes a | in a description and names defaults and choices", () => {
  const table = optionTable({
    mode: {
      flag: "mode",
      type: "string",
      default: "a",
      choices: ["a", "b"],
      env: "OPENSEG_MODE",
      description: "a|b",
    },
  });
  assert.match(table, /\| `--mode VALUE` \| `OPENSEG_MODE` \| `a` \| a\\\|b \(one of a, b\) \|/);
});
