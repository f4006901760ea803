/**
 * RAVEn/EMU-2/EAGLE fragment decoding: one framed XML fragment → one typed {@link MeterEvent}.
 *
 * The steps: `scan.ts` checks the flat fragment grammar and finds each child's field,
 * `field_values.ts` parses and scales the children as the field table in `fields.ts` says, and
 * `build_event.ts` makes the event. A child that fails to parse becomes a warning and a null
 * field; only a fragment that is not well-formed, or lacks the value its event is about, is
 * rejected. `decodeFragment` never throws.
 *
 * @module
 */

import type { MeterEvent } from "../events.ts";
import { buildEvent } from "./build_event.ts";
import { COMMON, ROOTS } from "./compiled.ts";
import { missingRequired, readFields } from "./field_values.ts";
import { FragmentScan, type ScanError } from "./scan.ts";
import { CodeText } from "./xml_text.ts";

/** A metered fragment's Multiplier and Divisor, each 0 already replaced by 1. */
export interface MeterScale {
  multiplier: number;
  divisor: number;
}

/** The scan of the fragment being decoded, reused (decoding is synchronous and not reentrant). */
const SCAN = new FragmentScan();

/** Outcome of {@link decodeFragment}. */
export type DecodeResult =
  /** `scale`: a summation's scaling, which its meter's ProfileData is scaled with. */
  | { ok: true; event: MeterEvent; warnings: string[]; scale?: MeterScale }
  | { ok: false; fragment: string | null; error: string };

function decodeUnknown(scan: FragmentScan, texts: string[], warnings: string[]): MeterEvent {
  const event = buildEvent(COMMON.def, readFields(scan, texts, warnings), warnings);
  event.fragment = scan.root();
  if (event.kind === "unknown") {
    event.fields = {};
    for (let k = 0; k < scan.children; k++) {
      const name = scan.childName(k);
      if (!Object.hasOwn(event.fields, name)) event.fields[name] = texts[k];
    }
  }
  return event;
}

/** Decodes one framed fragment. Never throws: every failure is an `ok: false` result. */
export function decodeFragment(xml: string): DecodeResult {
  return decodeText(CodeText.of(xml));
}

/**
 * {@link decodeFragment} of a fragment given as codes, as the framing hands them over: the
 * fragment's string is made only if a value or message needs it.
 */
export function decodeText(text: CodeText): DecodeResult {
  let failure: ScanError | null;
  try {
    failure = SCAN.run(text, ROOTS);
  } catch (e) {
    // Defensive: a decoder bug must cost one fragment, not the link.
    return { ok: false, fragment: null, error: `decoder failure: ${String(e)}` };
  }
  if (failure !== null) {
    return { ok: false, fragment: failure.rootKnown ? SCAN.root() : null, error: failure.error };
  }
  return decodeScanned(SCAN);
}

/**
 * The framing's `FragmentMatcher`: scans the known fragment starting at `start` (the codes run on
 * to `end`) and gives where it ends, -1 when it cannot vouch for it. {@link decodeMatched} then
 * decodes it from this scan, so a fragment is scanned once for framing and decoding together.
 */
export function matchFragment(codes: Uint8Array, start: number, end: number): number {
  try {
    return SCAN.run(new CodeText(codes, start, end), ROOTS, true) === null ? SCAN.end : -1;
  } catch {
    return -1;
  }
}

/** Decodes the fragment {@link matchFragment} has just matched (its scan is still in place). */
export function decodeMatched(text: CodeText): DecodeResult {
  SCAN.text = text;
  return decodeScanned(SCAN);
}

/** Decodes a fragment from its successful scan. */
function decodeScanned(scan: FragmentScan): DecodeResult {
  try {
    const warnings: string[] = [];
    // Entity warnings come first, as every child's text is decoded before any field is parsed.
    let texts: string[] | null = null;
    if (!scan.known || scan.ampersand) {
      texts = [];
      for (let k = 0; k < scan.children; k++) texts.push(scan.childText(k, warnings));
    }
    if (!scan.known) return { ok: true, event: decodeUnknown(scan, texts!, warnings), warnings };
    const compiled = scan.compiled!;
    const values = readFields(scan, texts, warnings);
    const missing = missingRequired(compiled, values);
    if (missing !== null) return { ok: false, fragment: compiled.def.root, error: missing };
    const event = buildEvent(compiled.def, values, warnings);
    if (event.kind !== "summation") return { ok: true, event, warnings };
    // The manual: a multiplier or divisor of zero means one.
    const scale = {
      multiplier: values.num("Multiplier") || 1,
      divisor: values.num("Divisor") || 1,
    };
    return { ok: true, event, warnings, scale };
  } catch (e) {
    // Defensive: a decoder bug must cost one fragment, not the link.
    return { ok: false, fragment: scan.root(), error: `decoder failure: ${String(e)}` };
  }
}
