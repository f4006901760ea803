/**
 * ESPI scope strings (`FB=1_3_4_5_13_14_39;IntervalDuration=900;BlockDuration=daily;
 * HistoryLength=172800`): parse and validate into `EspiScope`, compare a requested scope with what
 * an app registered, and describe one in plain words for the owner's consent page (which data
 * from the table in `granted_data.ts`).
 *
 * Parsing is tolerant of what real Green Button clients send (spaces after `;`, a trailing `;`,
 * `BlockDuration=Daily`, several interval durations `900_3600`) and strict about everything else:
 * unknown or repeated keys, non-numbers and missing `FB` are malformed.
 *
 * @module
 */

import type { EspiScope } from "./caller.ts";
import { GRANTED_DATA, grantedData } from "./granted_data.ts";

/** A scope string that cannot be parsed; the message says why (shown as `error_description`). */
export class ScopeError extends Error {
  override name = "ScopeError";
}

const MAX_SCOPE_CHARS = 1024;
const MAX_FUNCTION_BLOCK = 99;

/** ESPI block durations, canonical spelling by lower-case key. */
const BLOCK_DURATIONS = new Map(
  [
    "fiveMinutes",
    "fifteenMinutes",
    "thirtyMinutes",
    "hourly",
    "daily",
    "weekly",
    "monthly",
    "billingPeriod",
    "seasonal",
    "yearly",
  ].map((name) => [name.toLowerCase(), name]),
);

/** Keys ESPI defines; only the first four shape what the feed returns. */
const KNOWN_KEYS = new Set([
  "FB",
  "IntervalDuration",
  "BlockDuration",
  "HistoryLength",
  "SubscriptionFrequency",
  "AccountCollection",
  "BR",
]);

/** Scope texts parsed before: every bearer request parses its grant's scope again. */
const parsed = new Map<string, EspiScope>();
const MAX_PARSED_SCOPES = 256;

/**
 * Parses and validates an ESPI scope string; throws `ScopeError` when malformed. The result is
 * frozen: it is shared by every caller that parses the same text.
 */
export function parseScope(text: string): EspiScope {
  const known = parsed.get(text);
  if (known !== undefined) return known;
  const scope = parseScopeText(text);
  Object.freeze(scope.functionBlocks);
  Object.freeze(scope);
  // A gateway has a few scope texts; a flood of distinct ones only starts the memo afresh.
  if (parsed.size >= MAX_PARSED_SCOPES) parsed.clear();
  parsed.set(text, scope);
  return scope;
}

function parseScopeText(text: string): EspiScope {
  if (text.length > MAX_SCOPE_CHARS) throw new ScopeError("scope is too long");
  const fields = new Map<string, string>();
  const parts = text.split(";").map((part) => part.trim());
  if (parts.at(-1) === "") parts.pop();
  for (const part of parts) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw new ScopeError(`'${part}' is not Key=Value`);
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (!KNOWN_KEYS.has(key)) throw new ScopeError(`unknown scope key '${key}'`);
    if (fields.has(key)) throw new ScopeError(`scope key '${key}' appears twice`);
    if (value === "") throw new ScopeError(`scope key '${key}' has no value`);
    fields.set(key, value);
  }
  const fb = fields.get("FB");
  if (fb === undefined) throw new ScopeError("scope needs FB=… (function blocks)");
  const functionBlocks = [...new Set(numberList(fb, "FB"))].sort((a, b) => a - b);
  for (const block of functionBlocks) {
    if (block < 1 || block > MAX_FUNCTION_BLOCK) {
      throw new ScopeError(`function block ${block} does not exist`);
    }
  }
  const intervals = fields.has("IntervalDuration")
    ? numberList(fields.get("IntervalDuration")!, "IntervalDuration")
    : null;
  if (intervals?.some((s) => s === 0)) throw new ScopeError("IntervalDuration must be > 0");
  const history = fields.has("HistoryLength")
    ? numberList(fields.get("HistoryLength")!, "HistoryLength")
    : null;
  if (history !== null && history.length !== 1) {
    throw new ScopeError("HistoryLength takes one number of seconds");
  }
  for (const key of ["SubscriptionFrequency", "AccountCollection", "BR"]) {
    const value = fields.get(key);
    if (value !== undefined && !/^[A-Za-z0-9_]+$/.test(value)) {
      throw new ScopeError(`${key} has a malformed value`);
    }
  }
  let blockDuration: string | null = null;
  if (fields.has("BlockDuration")) {
    blockDuration = BLOCK_DURATIONS.get(fields.get("BlockDuration")!.toLowerCase()) ?? null;
    if (blockDuration === null) {
      throw new ScopeError(`BlockDuration '${fields.get("BlockDuration")}' is not known`);
    }
  }
  return {
    text: text.trim(),
    functionBlocks,
    // The finest duration listed is the finest the app may see.
    intervalDurationS: intervals === null ? null : Math.min(...intervals),
    blockDuration,
    historyLengthS: history === null ? null : history[0],
  };
}

/** The canonical text of a scope: what the gateway stores and echoes. */
export function formatScope(scope: Omit<EspiScope, "text">): string {
  const parts = [`FB=${scope.functionBlocks.join("_")}`];
  if (scope.intervalDurationS !== null) parts.push(`IntervalDuration=${scope.intervalDurationS}`);
  if (scope.blockDuration !== null) parts.push(`BlockDuration=${scope.blockDuration}`);
  if (scope.historyLengthS !== null) parts.push(`HistoryLength=${scope.historyLengthS}`);
  return parts.join(";");
}

/**
 * True when `requested` asks for no more than `allowed`: a subset of its function blocks, an
 * interval no finer and a history no longer.
 */
export function scopeWithin(requested: EspiScope, allowed: EspiScope): boolean {
  const blocks = new Set(allowed.functionBlocks);
  if (!requested.functionBlocks.every((block) => blocks.has(block))) return false;
  if (allowed.intervalDurationS !== null) {
    if (requested.intervalDurationS === null) return false;
    if (requested.intervalDurationS < allowed.intervalDurationS) return false;
  }
  if (allowed.historyLengthS !== null) {
    if (requested.historyLengthS === null) return false;
    if (requested.historyLengthS > allowed.historyLengthS) return false;
  }
  return true;
}

/**
 * Function blocks that say how data is shared rather than which data (that is
 * `granted_data.ts`), as a homeowner would read them. 13 and 14 (security classes, OAuth itself)
 * are part of every grant and not worth a line.
 */
const SHARING_BLOCKS: Record<number, string> = {
  2: "Download My Data files",
  3: "ongoing automatic access (Connect My Data)",
  18: "several meters",
  19: "updates of earlier readings",
  39: "notification when new data arrives",
};

/** The scope in plain sentences for the consent page. */
export function describeScope(scope: EspiScope): string[] {
  // From the same table the API and the feed enforce, so the page says exactly what is readable.
  const data = [...grantedData(scope)].map((kind) => GRANTED_DATA[kind].words);
  const sharing = scope.functionBlocks
    .filter((block) => SHARING_BLOCKS[block] !== undefined)
    .map((block) => SHARING_BLOCKS[block]);
  const lines = [
    data.length > 0
      ? `Which data: ${data.join("; ")}.`
      : "Which data: no meter data, only the authorization itself.",
    scope.historyLengthS === null
      ? "How far back: everything this gateway keeps."
      : `How far back: up to ${formatDuration(scope.historyLengthS)}.`,
    scope.intervalDurationS === null
      ? "How fine-grained: the finest readings this gateway has."
      : `How fine-grained: readings no finer than every ${
        formatDuration(scope.intervalDurationS)
      }.`,
  ];
  if (scope.blockDuration !== null) {
    lines.push(`Delivered in ${scope.blockDuration} blocks.`);
  }
  if (sharing.length > 0) lines.push(`How it is shared: ${sharing.join("; ")}.`);
  return lines;
}

function numberList(value: string, key: string): number[] {
  const items = value.split("_").map((item) => item.trim());
  return items.map((item) => {
    if (!/^\d{1,10}$/.test(item)) throw new ScopeError(`${key} '${value}' is not a number list`);
    return Number(item);
  });
}

function formatDuration(seconds: number): string {
  const units: [number, string][] = [[86400, "day"], [3600, "hour"], [60, "minute"], [1, "second"]];
  for (const [size, name] of units) {
    if (seconds >= size && seconds % size === 0) {
      const n = seconds / size;
      return `${n} ${name}${n === 1 ? "" : "s"}`;
    }
  }
  return `${seconds} seconds`;
}
