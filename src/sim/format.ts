/**
 * Wire formatting for the simulated meter: fixed-width hex fields, RAVEn timestamps, XML text
 * escaping, fragment layout and Windows-1252 encoding, matching what real RAVEn/EMU-2 sticks emit.
 *
 * @module
 */

import { TS_UNSET, ZIGBEE_EPOCH_OFFSET_S } from "../radio/raven/fields.ts";

/** Line terminator between the lines of a fragment; `""` puts a whole fragment on one line. */
export type LineEnding = "\r\n" | "\n" | "";

/** Unix ms of 2000-01-01T00:00:00Z, the epoch of every RAVEn timestamp. */
const RAVEN_EPOCH_MS = ZIGBEE_EPOCH_OFFSET_S * 1000;

/** `0x` + lower-case hex of a non-negative integer, zero-padded to `digits`. */
export function hex(value: number | bigint, digits: number): string {
  if (value < 0) throw new RangeError(`hex() needs a non-negative value, got ${value}`);
  return "0x" + value.toString(16).padStart(digits, "0");
}

/** The 32-bit "not set" timestamp/time value. */
export const UNSET_TIME_HEX = hex(TS_UNSET, 8);

/**
 * Demand the way sticks send it: 6 hex digits when positive, 32-bit two's complement (8 digits)
 * when negative. Clamped to the int24 range because ZigBee InstantaneousDemand is int24.
 */
export function demandHex(demandCounts: number): string {
  const clamped = Math.max(-0x7fffff, Math.min(0x7fffff, Math.round(demandCounts)));
  return clamped >= 0 ? hex(clamped, 6) : hex(clamped >>> 0, 8);
}

/** Seconds since 2000-01-01 UTC for a Unix ms time (truncated to whole seconds). */
export function toRavenSeconds(timeMs: number): number {
  return Math.floor((timeMs - RAVEN_EPOCH_MS) / 1000);
}

/** A RAVEn `ts` field (hex8 seconds since 2000-01-01 UTC). */
export function tsHex(timeMs: number): string {
  return hex(toRavenSeconds(timeMs) >>> 0, 8);
}

/** Escapes element text the way the manual specifies (`&amp; &lt; &gt; &quot;`). */
export function escapeXmlText(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

/** One child element: name and already-formatted (escaped) text. */
export type FragmentField = readonly [name: string, text: string];

/** Root at column 0, children indented two spaces, each line ended by `lineEnding`. */
export function formatFragment(
  root: string,
  fields: readonly FragmentField[],
  lineEnding: LineEnding,
): string {
  let text = `<${root}>${lineEnding}`;
  for (const [name, value] of fields) text += `  <${name}>${value}</${name}>${lineEnding}`;
  return text + `</${root}>${lineEnding}`;
}

/** Reverse of the WHATWG Windows-1252 decoder, so every decodable character round-trips. */
const WINDOWS_1252: ReadonlyMap<string, number> = (() => {
  const decoder = new TextDecoder("windows-1252");
  const map = new Map<string, number>();
  for (let byte = 0; byte < 256; byte++) map.set(decoder.decode(new Uint8Array([byte])), byte);
  return map;
})();

/** Encodes text as Windows-1252 (the devices' code page); unencodable characters become `?`. */
export function encodeWindows1252(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) {
      // ASCII fast path: almost every byte a meter sends.
      bytes[length++] = code;
    } else if (code >= 0xd800 && code < 0xdc00) {
      // A surrogate pair is never in Windows-1252: one `?` for the whole character.
      bytes[length++] = 0x3f;
      i++;
    } else {
      bytes[length++] = WINDOWS_1252.get(text[i]) ?? 0x3f;
    }
  }
  return bytes.subarray(0, length);
}
