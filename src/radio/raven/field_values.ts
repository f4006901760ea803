/**
 * Field parsing, driven by `fields.ts`: each known child of a scanned fragment parsed by its
 * kind, checked against its plausible range and scaled from kW/kWh to W/Wh; a child that fails
 * becomes a warning and a null value.
 *
 * Parsers read a child's text in place, as codes `[a..z)` of a {@link CodeText}, and cut a
 * string out only for values that are strings anyway (and for error messages); an identifier
 * equal to a recent one is that one's string, so a stream of one meter's fragments makes no new
 * identifier strings.
 *
 * @module
 */

import { isPlausible, type PlausibleRange } from "../plausible_range.ts";
import type { CompiledFragment } from "./compiled.ts";
import { type FieldDef, TS_UNSET, ZIGBEE_EPOCH_OFFSET_S } from "./fields.ts";
import type { FragmentScan } from "./scan.ts";
import { CodeText, isSpace, numberStart, trimSpace } from "./xml_text.ts";

export type Value = number | bigint | string | boolean | null;

/** Value of each hex digit code, -1 for every other code; a table beats range tests here. */
const HEX_VALUE = new Int8Array(256).fill(-1);
for (let d = 0; d < 16; d++) {
  HEX_VALUE[d.toString(16).charCodeAt(0)] = d;
  HEX_VALUE[d.toString(16).toUpperCase().charCodeAt(0)] = d;
}

/** Whether `[a..z)` starts with `0x`/`0X`. */
function hasHexPrefix(b: Uint8Array, a: number, z: number): boolean {
  return z - a >= 3 && b[a] === 0x30 && (b[a + 1] | 0x20) === 0x78;
}

/** `0x…` → number (bigint above 2^53); null when not a valid prefixed hex literal. */
function parseHex(t: CodeText, a: number, z: number): number | bigint | null {
  const b = t.codes;
  if (!hasHexPrefix(b, a, z)) return null;
  let v = 0;
  let k = a + 2;
  // Up to 7 digits in integer arithmetic (28 bits, a small integer), the rest in doubles: the
  // same exact value, but most fields (32 bits and less) never leave the faster integers.
  for (const intEnd = Math.min(z, k + 7); k < intEnd; k++) {
    const d = HEX_VALUE[b[k]];
    if (d < 0) return null;
    v = (v << 4) | d;
  }
  for (; k < z; k++) {
    const d = HEX_VALUE[b[k]];
    if (d < 0) return null;
    v = v * 16 + d;
  }
  return v <= Number.MAX_SAFE_INTEGER ? v : BigInt(t.slice(a, z));
}

/**
 * Identifiers recently parsed, as their codes and string: a meter's fragments repeat the same
 * two or three, and reusing the string saves making one per fragment (and, since a cut string
 * keeps its whole fragment alive, holding every queued fragment's text until the store flushes).
 */
const RECENT_IDS: { codes: Uint8Array; id: string }[] = [];
const RECENT_IDS_MAX = 8;
let recentNext = 0;

/** The recent identifier spelled exactly `[a..z)`, if any. */
function recentId(b: Uint8Array, a: number, z: number): string | null {
  for (const { codes, id } of RECENT_IDS) {
    if (codes.length !== z - a) continue;
    let k = 0;
    while (k < codes.length && codes[k] === b[a + k]) k++;
    if (k === codes.length) return id;
  }
  return null;
}

/** A `0x…` identifier lower-cased, or null when not a valid prefixed hex literal. */
function parseId(t: CodeText, a: number, z: number): string | null {
  const b = t.codes;
  // Only lower-case identifiers are remembered, so a hit is the text as it is.
  const recent = recentId(b, a, z);
  if (recent !== null) return recent;
  if (!hasHexPrefix(b, a, z)) return null;
  let upper = b[a + 1] === 0x58;
  for (let k = a + 2; k < z; k++) {
    const c = b[k];
    if (HEX_VALUE[c] < 0) return null;
    if (c >= 0x41 && c <= 0x46) upper = true;
  }
  // Devices send lower case; only then can the text be kept as it is.
  const id = t.slice(a, z);
  if (upper) return id.toLowerCase();
  RECENT_IDS[recentNext] = { codes: b.slice(a, z), id };
  recentNext = (recentNext + 1) % RECENT_IDS_MAX;
  return id;
}

const MAX_UINT64 = 0xffff_ffff_ffff_ffffn;
const UINT32_MAX = 0xffff_ffff;
const INT24_INVALID = -0x800000;

/** A field's text could not be parsed; `error` says why. */
interface FieldError {
  error: string;
}

/** Parses one child's text `[a..z)` of `t` (trimmed, non-empty) by its kind. */
function parseField(def: FieldDef, t: CodeText, a: number, z: number): Value | FieldError {
  const b = t.codes;
  switch (def.kind) {
    case "text":
      return t.slice(a, z);
    case "yn": {
      if (z - a === 1) {
        const c = b[a] | 0x20;
        if (c === 0x79) return true;
        if (c === 0x6e) return false;
      }
      return { error: `expected Y or N, got "${t.slice(a, z)}"` };
    }
    case "dec": {
      let v = 0;
      for (let k = a; k < z; k++) {
        const c = b[k];
        if (c < 0x30 || c > 0x39) {
          return { error: `expected a decimal number, got "${t.slice(a, z)}"` };
        }
        v = v * 10 + (c - 0x30);
      }
      // Up to 15 digits are exact in a double.
      return z - a <= 15 ? v : { error: `decimal number out of range: "${t.slice(a, z)}"` };
    }
    case "id":
      return parseId(t, a, z) ?? { error: `expected 0x-prefixed hex, got "${t.slice(a, z)}"` };
    default:
      break;
  }
  const v = parseHex(t, a, z);
  if (v === null) return { error: `expected 0x-prefixed hex, got "${t.slice(a, z)}"` };
  switch (def.kind) {
    case "uint64":
      return typeof v === "bigint" && v > MAX_UINT64
        ? { error: `wider than 64 bits: ${t.slice(a, z)}` }
        : v;
    case "hex":
      return typeof v === "bigint" ? { error: `out of range: ${t.slice(a, z)}` } : v;
    case "ts":
      if (typeof v === "bigint" || v > UINT32_MAX) {
        return { error: `wider than 32 bits: ${t.slice(a, z)}` };
      }
      return v === TS_UNSET ? null : (v + ZIGBEE_EPOCH_OFFSET_S) * 1000;
    case "demand": {
      if (typeof v === "bigint" || v > UINT32_MAX) {
        return { error: `wider than 32 bits: ${t.slice(a, z)}` };
      }
      // Negative demand comes sign-extended to 32 bits; 6-digit values are ZigBee int24.
      const signed = z - a - 2 > 6 ? v | 0 : v >= 0x800000 ? v - 0x1000000 : v;
      return signed === INT24_INVALID ? null : signed;
    }
  }
  return null;
}

/** A parsed value with its suffix number for numbered fields (`Price2` → 2). */
export interface ListEntry {
  n: number | null;
  value: Value;
}

/** The parsed children of one fragment, by field slot. */
export class FieldValues {
  /** Single values by slot; `undefined` when the field did not occur. */
  readonly #single: (Value | undefined)[];
  /** Repeated and numbered values by slot, allocated for the fragments that have them. */
  #lists: ListEntry[][] | null = null;
  /** Fields present but unparseable, with the (last) reason, by canonical name. */
  errors: Map<string, string> | null = null;

  constructor(readonly compiled: CompiledFragment) {
    this.#single = new Array(compiled.def.fields.length);
  }

  set(slot: number, value: Value): boolean {
    if (this.#single[slot] !== undefined) return false;
    this.#single[slot] = value;
    return true;
  }

  add(slot: number, entry: ListEntry): void {
    this.#lists ??= [];
    (this.#lists[slot] ??= []).push(entry);
  }

  error(name: string, error: string): void {
    (this.errors ??= new Map()).set(name, error);
  }

  hasSlot(slot: number): boolean {
    return this.#single[slot] !== undefined;
  }

  /** The value of slot `slot`; null when absent. */
  at(slot: number): Value {
    return this.#single[slot] ?? null;
  }

  /** Replaces the single value of slot `slot` (which must be present). */
  replace(slot: number, value: Value): void {
    this.#single[slot] = value;
  }

  listAt(slot: number): ListEntry[] {
    return this.#lists?.[slot] ?? [];
  }

  #get(name: string): Value {
    const slot = this.compiled.slots.get(name);
    return slot === undefined ? null : this.#single[slot] ?? null;
  }

  num(name: string): number | null {
    const v = this.#get(name);
    return typeof v === "number" ? v : null;
  }

  str(name: string): string | null {
    const v = this.#get(name);
    return typeof v === "string" ? v : null;
  }

  bool(name: string): boolean | null {
    const v = this.#get(name);
    return typeof v === "boolean" ? v : null;
  }

  list(name: string): ListEntry[] {
    const slot = this.compiled.slots.get(name);
    return slot === undefined ? [] : this.listAt(slot);
  }
}

/** raw × M × 1000 ÷ D exactly, in integers where a JS number could lose precision. */
export function scaleToMilli(raw: number | bigint, multiplier: number, divisor: number): number {
  if (typeof raw === "number") {
    const product = raw * multiplier * 1000;
    if (Number.isSafeInteger(product)) return product / divisor;
  }
  const product = BigInt(raw) * BigInt(multiplier) * 1000n;
  const d = BigInt(divisor);
  return Number(product / d) + Number(product % d) / divisor;
}

/**
 * Parses every known child of a scanned fragment into `FieldValues`, collecting warnings.
 * `texts` are the children's decoded texts when some need entity decoding; otherwise each text is
 * read in place.
 */
export function readFields(
  scan: FragmentScan,
  texts: string[] | null,
  warnings: string[],
): FieldValues {
  const text = scan.text;
  const codes = text.codes;
  const c = scan.compiled!;
  const values = new FieldValues(c);
  const spans = scan.spans;
  for (let k = 0; k < scan.children; k++) {
    const field = scan.fields[k];
    if (field === null) continue;
    // The text as `[a..z)` of `t`: in place unless it needs trimming or entity decoding.
    let t = text;
    let a = spans[4 * k + 2];
    let z = spans[4 * k + 3];
    if (texts !== null || (a < z && (isSpace(codes[a]) || isSpace(codes[z - 1])))) {
      t = CodeText.of(texts === null ? trimSpace(text.slice(a, z)) : texts[k]);
      a = t.start;
      z = t.end;
    }
    // Empty elements (EAGLE sends a whole empty MessageCluster) count as absent.
    if (a === z) continue;
    const def = field.def;
    let value = parseField(def, t, a, z);
    if (value !== null && typeof value === "object") {
      value = refuse(values, def, value.error, warnings);
    } else if (typeof value === "number" && field.unset?.includes(value)) {
      value = null;
    } else if (
      field.range !== null && (typeof value === "number" || typeof value === "bigint") &&
      !inRange(value, field.range)
    ) {
      value = refuse(values, def, `out of range: ${t.slice(a, z)}`, warnings);
    } else if (typeof value === "number" && def.unit === "min") {
      value *= 60;
    }
    if (def.repeated || def.numbered) {
      const nameStart = spans[4 * k];
      const nameEnd = spans[4 * k + 1];
      const numberAt = def.numbered ? numberStart(codes, nameStart, nameEnd) : nameEnd;
      const n = numberAt < nameEnd ? Number(text.slice(numberAt, nameEnd)) : null;
      values.add(field.slot, { n, value });
    } else if (!values.set(field.slot, value)) {
      warnings.push(`${def.name}: repeated, first value kept`);
    }
  }
  if (c.metered.length > 0) scaleMetered(c, values, warnings);
  return values;
}

/** Whether a parsed number lies in `range` (a bigint, above 2^53, never does). */
function inRange(value: number | bigint, range: PlausibleRange): boolean {
  return typeof value === "number" && isPlausible(value, range);
}

/** Records `def`'s value as refused: a warning, an error the required check sees, no value. */
function refuse(values: FieldValues, def: FieldDef, error: string, warnings: string[]): null {
  warnings.push(`${def.name}: ${error}`);
  values.error(def.name, error);
  return null;
}

/**
 * Converts every kW/kWh field to W/Wh with the fragment's own Multiplier and Divisor, refusing
 * results outside the field's plausible range.
 */
function scaleMetered(c: CompiledFragment, values: FieldValues, warnings: string[]): void {
  // The manual: a multiplier or divisor of zero means one.
  const multiplier = values.num("Multiplier") || 1;
  const divisor = values.num("Divisor") || 1;
  for (const { def, slot } of c.metered) {
    if (values.hasSlot(slot)) {
      values.replace(slot, scaleValue(def, values.at(slot), multiplier, divisor, values, warnings));
    }
    if (!def.repeated && !def.numbered) continue;
    for (const e of values.listAt(slot)) {
      e.value = scaleValue(def, e.value, multiplier, divisor, values, warnings);
    }
  }
}

/** One kW/kWh value of `def` in W/Wh, or null (refused) when implausible once scaled. */
function scaleValue(
  def: FieldDef,
  v: Value,
  multiplier: number,
  divisor: number,
  values: FieldValues,
  warnings: string[],
): Value {
  if (typeof v !== "number" && typeof v !== "bigint") return v;
  const scaled = scaleToMilli(v, multiplier, divisor);
  if (def.scaledRange === undefined || isPlausible(scaled, def.scaledRange)) return scaled;
  return refuse(values, def, `implausible once scaled: ${scaled} W(h)`, warnings);
}

/** Why the fragment cannot become an event (a scaling value or a required one unusable). */
export function missingRequired(c: CompiledFragment, values: FieldValues): string | null {
  for (const { def } of c.scaling) {
    const error = values.errors?.get(def.name);
    if (error !== undefined) return `${c.def.root}: invalid ${def.name}: ${error}`;
  }
  for (const { def, slot } of c.required) {
    const error = values.errors?.get(def.name);
    if (error !== undefined) return `${c.def.root}: invalid ${def.name}: ${error}`;
    if (!values.hasSlot(slot)) return `${c.def.root}: missing ${def.name}`;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
