/**
 * The option reference in `docs/cli.md`, generated from the same tables that parse the options
 * and print `--help`, so the page cannot drift from the code. `deno task docs:options` rewrites
 * the marked section; a test fails when the page and the table disagree.
 *
 * @module
 */

import { serveOptions } from "../config.ts";
import type { OptionSpec } from "../config/options.ts";
import { householdsOptions } from "./households.ts";

/** The documented option tables, by the marker name used in `docs/cli.md`. */
export const DOCUMENTED_OPTIONS: Readonly<Record<string, Record<string, OptionSpec>>> = {
  serve: serveOptions,
  households: householdsOptions,
};

const DOC_PATH = new URL("../../docs/cli.md", import.meta.url);

/** A Markdown table: option, environment variable, default, meaning. */
export function optionTable(specs: Record<string, OptionSpec>): string {
  const rows = Object.values(specs).map((spec) => {
    const value = spec.type === "boolean" ? "" : spec.type === "number" ? " N" : " VALUE";
    const repeat = spec.type === "strings" ? " (repeatable)" : "";
    const fallback = "default" in spec && spec.default !== undefined ? `\`${spec.default}\`` : "—";
    const choices = "choices" in spec && spec.choices ? ` (one of ${spec.choices.join(", ")})` : "";
    const env = spec.env ? `\`${spec.env}\`` : "—";
    const meaning = escapeCell(spec.description + choices);
    return `| \`--${spec.flag}${value}\`${repeat} | ${env} | ${fallback} | ${meaning} |`;
  });
  return ["| option | env | default | meaning |", "| --- | --- | --- | --- |", ...rows].join("\n");
}

/** The marked section of a page for one table. */
export function markers(name: string): { start: string; end: string } {
  return { start: `<!-- options:${name}:start -->`, end: `<!-- options:${name}:end -->` };
}

/** The page with every marked section replaced by its generated table. */
export function withOptionTables(page: string): string {
  let result = page;
  for (const [name, specs] of Object.entries(DOCUMENTED_OPTIONS)) {
    const { start, end } = markers(name);
    const from = result.indexOf(start);
    const to = result.indexOf(end);
    if (from < 0 || to < from) throw new Error(`docs/cli.md has no ${start} … ${end} section`);
    result = `${result.slice(0, from + start.length)}\n\n${optionTable(specs)}\n\n${
      result.slice(to)
    }`;
  }
  return result;
}

function escapeCell(text: string): string {
  return text.replaceAll("|", "\\|");
}

if (import.meta.main) {
  await Deno.writeTextFile(DOC_PATH, withOptionTables(await Deno.readTextFile(DOC_PATH)));
}
