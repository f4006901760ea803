/**
 * `openseg decode [FILE|-]`: turns a RAVEn/EMU-2 capture (or stdin) into NDJSON, one line per
 * fragment, through the same framing and decoding the gateway uses on a live radio.
 *
 * @module
 */

import type { MeterEvent } from "../radio/events.ts";
import { FragmentSplitter } from "../radio/raven/framing.ts";
import { decodeFragment } from "../radio/raven/decode.ts";
import { formatHelp, parseCommand } from "../config/options.ts";

const decodeOptions = {} as const;

const HELP = formatHelp(
  "openseg decode [FILE|-]",
  "Decode a capture file (or stdin when FILE is '-' or missing) to one JSON line per fragment:\n" +
    "fragment, meter, time, then every decoded value with its unit in the key, and warnings.\n" +
    'An undecodable fragment gives {"fragment": …, "error": …}.',
  decodeOptions,
);

/** Writes are batched to about this many characters; one write per line would dominate. */
const WRITE_BATCH_CHARS = 64 * 1024;

function isoTime(ms: number | null): string | null {
  // Guard the Date range so a corrupt value can never make toISOString throw.
  return ms === null || !Number.isFinite(ms) || Math.abs(ms) > 8.64e15
    ? null
    : new Date(ms).toISOString();
}

function eventLine(event: MeterEvent, warnings: string[]): string {
  const line: Record<string, unknown> = {
    fragment: event.fragment,
    meter: event.meter,
    time: isoTime(event.timeMs),
  };
  for (const [key, value] of Object.entries(event)) {
    if (key === "kind" || key === "timeMs" || key === "fragment" || key === "meter") continue;
    if (key.endsWith("TimeMs")) line[key.slice(0, -2)] = isoTime(value as number | null);
    else line[key] = value;
  }
  if (warnings.length > 0) line.warnings = warnings;
  return JSON.stringify(line) + "\n";
}

function errorLine(fragment: string | null, error: string): string {
  return JSON.stringify({ fragment, error }) + "\n";
}

/**
 * Frames and decodes a byte stream; yields one NDJSON line (ending in `\n`) per fragment, plus
 * one error line for a fragment cut off by the end of the input. Never throws on bad input.
 */
export async function* decodeToNdjson(
  chunks: AsyncIterable<Uint8Array>,
): AsyncGenerator<string> {
  const splitter = new FragmentSplitter();
  for await (const chunk of chunks) {
    for (const fragment of splitter.push(chunk)) {
      const result = decodeFragment(fragment);
      yield result.ok
        ? eventLine(result.event, result.warnings)
        : errorLine(result.fragment, result.error);
    }
  }
  const rest = splitter.flush();
  if (rest !== null) {
    const result = decodeFragment(rest);
    yield errorLine(
      result.ok ? result.event.fragment : result.fragment,
      "incomplete at end of input",
    );
  }
}

async function openInput(path: string): Promise<AsyncIterable<Uint8Array>> {
  if (path === "-") return Deno.stdin.readable;
  return (await Deno.open(path)).readable;
}

/** `openseg decode`: returns 0, or 1 when the input cannot be read (message on stderr). */
export async function runDecode(args: string[]): Promise<number> {
  const { positionals, help } = parseCommand(decodeOptions, args, { positionals: 1 });
  if (help) {
    console.log(HELP);
    return 0;
  }
  const path = positionals[0] ?? "-";
  const encoder = new TextEncoder();
  const writer = Deno.stdout.writable.getWriter();
  try {
    let batch = "";
    for await (const line of decodeToNdjson(await openInput(path))) {
      batch += line;
      if (batch.length >= WRITE_BATCH_CHARS) {
        await writer.write(encoder.encode(batch));
        batch = "";
      }
    }
    if (batch !== "") await writer.write(encoder.encode(batch));
    return 0;
  } catch (error) {
    const name = path === "-" ? "stdin" : `'${path}'`;
    console.error(`openseg decode: cannot read ${name}: ${(error as Error).message ?? error}`);
    return 1;
  } finally {
    writer.releaseLock();
  }
}
