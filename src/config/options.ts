/**
 * Declarative command-line options: one table per command gives flags, `OPENSEG_*` environment
 * variables, JSON config keys, validation and `--help` text, so the four never drift apart.
 *
 * Precedence: flag > environment variable > JSON config file (`--config`) > default.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { UsageError } from "./usage_error.ts";

interface OptionBase {
  /** Long flag name without dashes, e.g. `retention-hours`. */
  flag: string;
  description: string;
  /** Environment variable, e.g. `OPENSEG_DB`. */
  env?: string;
}

export interface StringOption extends OptionBase {
  type: "string";
  default?: string;
  choices?: readonly string[];
}

export interface StringListOption extends OptionBase {
  type: "strings";
}

export interface BooleanOption extends OptionBase {
  type: "boolean";
}

export interface NumberOption extends OptionBase {
  type: "number";
  default?: number;
  min: number;
  max: number;
  integer?: boolean;
  choices?: readonly number[];
}

export type OptionSpec = StringOption | StringListOption | BooleanOption | NumberOption;

/** Maps a table of specs to the parsed value types, keyed by camelCase flag name. */
export type OptionValues<T extends Record<string, OptionSpec>> = {
  [K in keyof T]: T[K] extends StringOption ? (T[K] extends { default: string } ? string
      : string | undefined)
    : T[K] extends StringListOption ? string[]
    : T[K] extends BooleanOption ? boolean
    : T[K] extends NumberOption ? (T[K] extends { default: number } ? number : number | undefined)
    : never;
};

export interface ParsedCommand<T extends Record<string, OptionSpec>> {
  values: OptionValues<T>;
  positionals: string[];
  help: boolean;
}

export interface ParseOptions {
  env?: Record<string, string | undefined>;
  /** Allow positional arguments (e.g. a file name). */
  positionals?: number;
  /** Reads the `--config` JSON file; injectable for tests. */
  readTextFile?: (path: string) => string;
}

/** Parses `args` against `specs`; throws `UsageError` naming the bad option or value. */
export function parseCommand<T extends Record<string, OptionSpec>>(
  specs: T,
  args: string[],
  options: ParseOptions = {},
): ParsedCommand<T> {
  const parseSpec: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {
    help: { type: "boolean" },
    config: { type: "string" },
  };
  for (const spec of Object.values(specs)) {
    parseSpec[spec.flag] = spec.type === "boolean"
      ? { type: "boolean" }
      : { type: "string", multiple: spec.type === "strings" };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options: parseSpec, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(cleanParseError(error));
  }
  const maxPositionals = options.positionals ?? 0;
  if (parsed.positionals.length > maxPositionals) {
    throw new UsageError(`unexpected argument '${parsed.positionals[maxPositionals]}'`);
  }
  const env = options.env ?? {};
  const configPath = (parsed.values.config as string | undefined) ?? env.OPENSEG_CONFIG;
  const fileValues = configPath ? readConfigFile(configPath, options.readTextFile) : {};

  const values: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) {
    const fromFlag = parsed.values[spec.flag];
    const fromEnv = spec.env ? env[spec.env] : undefined;
    const fromFile = fileValues[key] ?? fileValues[spec.flag];
    values[key] = resolveValue(spec, fromFlag, fromEnv, fromFile);
  }
  return {
    values: values as OptionValues<T>,
    positionals: parsed.positionals,
    help: parsed.values.help === true,
  };
}

function resolveValue(
  spec: OptionSpec,
  fromFlag: unknown,
  fromEnv: string | undefined,
  fromFile: unknown,
): unknown {
  const source = fromFlag !== undefined
    ? `--${spec.flag}`
    : fromEnv !== undefined
    ? spec.env!
    : `config key '${spec.flag}'`;
  switch (spec.type) {
    case "boolean":
      if (fromFlag !== undefined) return fromFlag === true;
      if (fromEnv !== undefined) return parseBoolean(fromEnv, source);
      if (fromFile !== undefined) {
        if (typeof fromFile !== "boolean") throw new UsageError(`${source} must be true or false`);
        return fromFile;
      }
      return false;
    case "strings": {
      if (Array.isArray(fromFlag) && fromFlag.length > 0) return fromFlag as string[];
      if (fromEnv !== undefined) return fromEnv.split(",").map((s) => s.trim()).filter(Boolean);
      if (fromFile !== undefined) {
        if (!Array.isArray(fromFile) || !fromFile.every((s) => typeof s === "string")) {
          throw new UsageError(`${source} must be a list of strings`);
        }
        return fromFile;
      }
      return [];
    }
    case "string": {
      const raw = fromFlag ?? fromEnv ?? fromFile;
      if (raw === undefined) return spec.default;
      if (typeof raw !== "string" || raw === "") {
        throw new UsageError(`${source} needs a non-empty value`);
      }
      if (spec.choices && !spec.choices.includes(raw)) {
        throw new UsageError(`${source}: '${raw}' is not one of ${spec.choices.join(", ")}`);
      }
      return raw;
    }
    case "number": {
      const raw = fromFlag ?? fromEnv ?? fromFile;
      if (raw === undefined) return spec.default;
      return parseNumber(spec, raw, source);
    }
  }
}

function parseNumber(spec: NumberOption, raw: unknown, source: string): number {
  const text = String(raw).trim();
  const value = typeof raw === "number" ? raw : text === "" ? NaN : Number(text);
  const kind = spec.integer ? "an integer" : "a number";
  if (!Number.isFinite(value) || (spec.integer && !Number.isInteger(value))) {
    throw new UsageError(`${source}: '${text}' is not ${kind}`);
  }
  if (spec.choices && !spec.choices.includes(value)) {
    throw new UsageError(`${source}: ${value} is not one of ${spec.choices.join(", ")}`);
  }
  if (value < spec.min || value > spec.max) {
    throw new UsageError(`${source}: ${value} is outside ${spec.min}..${spec.max}`);
  }
  return value;
}

function parseBoolean(text: string, source: string): boolean {
  const lower = text.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(lower)) return true;
  if (["0", "false", "no", "off", ""].includes(lower)) return false;
  throw new UsageError(`${source}: '${text}' is not a boolean (use true or false)`);
}

function readConfigFile(
  path: string,
  readTextFile: (path: string) => string = Deno.readTextFileSync,
): Record<string, unknown> {
  let text: string;
  try {
    text = readTextFile(path);
  } catch (error) {
    throw new UsageError(`--config: cannot read '${path}': ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--config: '${path}' is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`--config: '${path}' must hold a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

function cleanParseError(error: unknown): string {
  const message = (error as Error).message ?? String(error);
  // node:util messages are multi-line and mention `args`; keep the first line.
  return message.split("\n")[0].split(". To specify")[0];
}

/** Renders a help text from the same table that parses the options. */
export function formatHelp(
  usage: string,
  summary: string,
  specs: Record<string, OptionSpec>,
): string {
  const rows = Object.values(specs).map((spec) => {
    const value = spec.type === "boolean" ? "" : spec.type === "number" ? " N" : " VALUE";
    const left = `  --${spec.flag}${value}${spec.type === "strings" ? " (repeatable)" : ""}`;
    const extras: string[] = [];
    if ("default" in spec && spec.default !== undefined) extras.push(`default ${spec.default}`);
    if ("choices" in spec && spec.choices) extras.push(`one of ${spec.choices.join("/")}`);
    if (spec.env) extras.push(`env ${spec.env}`);
    const right = spec.description + (extras.length ? ` (${extras.join("; ")})` : "");
    return `${left.padEnd(34)} ${right}`;
  });
  rows.push(`${"  --config FILE".padEnd(34)} JSON file with option values (env OPENSEG_CONFIG)`);
  rows.push(`${"  --help".padEnd(34)} show this help`);
  return `Usage: ${usage}\n\n${summary}\n\nOptions:\n${rows.join("\n")}\n`;
}
