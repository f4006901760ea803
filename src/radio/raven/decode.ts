/**
 * RAVEn/EMU-2/EAGLE fragment decoding: one framed XML fragment → one typed {@link MeterEvent}.
 *
 * A hand-written parser for the flat fragment grammar (root element, text-only children, no
 * attributes, no namespaces; names case-insensitive) feeds the field table in `fields.ts`, which
 * says how every child is parsed and scaled. A child that fails to parse becomes a warning and a
 * null field; only a fragment that is not well-formed, or lacks the value its event is about, is
 * rejected. `decodeFragment` never throws.
 *
 * @module
 */

import type { MeterEvent, PriceBlock } from "../events.ts";
import { isPlausible, type PlausibleRange, PROFILE_PERIODS } from "../plausible_range.ts";
import {
  COMMON_FIELDS,
  CURRENCY_ALPHA,
  type FieldDef,
  type FragmentDef,
  FRAGMENTS,
  PROFILE_INTERVAL_S,
  ZIGBEE_EPOCH_OFFSET_S,
} from "./fields.ts";

/** A metered fragment's Multiplier and Divisor, each 0 already replaced by 1. */
export interface MeterScale {
  multiplier: number;
  divisor: number;
}

/** Outcome of {@link decodeFragment}. */
export type DecodeResult =
  /** `scale`: a summation's scaling, which its meter's ProfileData is scaled with. */
  | { ok: true; event: MeterEvent; warnings: string[]; scale?: MeterScale }
  | { ok: false; fragment: string | null; error: string };

/** A well-formed flat fragment: root name and its children's names and entity-decoded texts. */
export interface FragmentXml {
  root: string;
  names: string[];
  texts: string[];
  /** Problems that did not make the fragment unusable (undecodable entities). */
  warnings: string[];
}

/** Outcome of {@link parseFragmentXml}. */
export type FragmentXmlResult =
  | ({ ok: true } & FragmentXml)
  | { ok: false; root: string | null; error: string };

const LT = 0x3c;
const GT = 0x3e;
const SLASH = 0x2f;
const AMP = "&";

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function isLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

function isNameChar(c: number): boolean {
  return isLetter(c) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2d || c === 0x2e;
}

function skipSpace(s: string, i: number): number {
  while (i < s.length && isSpace(s.charCodeAt(i))) i++;
  return i;
}

/** End of the XML name starting at `i` (`i` itself when there is none). */
function nameEnd(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (!isLetter(c) && c !== 0x5f) return i;
  i++;
  while (i < s.length && isNameChar(s.charCodeAt(i))) i++;
  return i;
}

/**
 * End of the close-tag name at `at` when it equals the name `s[name..name + nameLen)` (ASCII
 * case-insensitively), else -1. Compares while scanning, so a matching name is read only once.
 */
function closeNameEnd(s: string, at: number, name: number, nameLen: number): number {
  for (let k = 0; k < nameLen; k++) {
    const a = s.charCodeAt(at + k);
    const b = s.charCodeAt(name + k);
    if (a !== b && !(isLetter(a) && (a | 0x20) === (b | 0x20))) return -1;
  }
  return isNameChar(s.charCodeAt(at + nameLen)) ? -1 : at + nameLen;
}

const ENTITY = /&(#[xX][0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]{2,6});/g;
const NAMED_ENTITIES: ReadonlyMap<string, string> = new Map([
  ["amp", "&"],
  ["lt", "<"],
  ["gt", ">"],
  ["quot", '"'],
  ["apos", "'"],
  ["nbsp", "\u00a0"],
]);

/** Decodes XML/HTML entities; an unknown one or a bare `&` stays literal with a warning. */
function unescapeText(text: string, name: string, warnings: string[]): string {
  let bad = false;
  const out = text.replace(ENTITY, (whole, ref: string) => {
    if (ref.charCodeAt(0) !== 0x23) {
      const named = NAMED_ENTITIES.get(ref);
      if (named !== undefined) return named;
      bad = true;
      return whole;
    }
    const code = ref.charCodeAt(1) === 0x78 || ref.charCodeAt(1) === 0x58
      ? parseInt(ref.slice(2), 16)
      : parseInt(ref.slice(1), 10);
    if (code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
      bad = true;
      return whole;
    }
    return String.fromCodePoint(code);
  });
  // A bare `&` (one that does not start an entity reference) is not well-formed but harmless.
  if (bad || text.replace(ENTITY, "").includes(AMP)) {
    warnings.push(`${name}: undecodable "&" kept literally`);
  }
  return out;
}

/** `text` without surrounding XML whitespace; cheap when there is none (the usual case). */
function trimSpace(text: string): string {
  return text.length > 0 &&
      (isSpace(text.charCodeAt(0)) || isSpace(text.charCodeAt(text.length - 1)))
    ? text.trim()
    : text;
}

/**
 * Names looked up in place, without cutting the name out of the fragment: entries by name length,
 * each with its lower-case character codes. A child name is compared with the one or two entries
 * of its length, ASCII case-insensitively.
 */
type NameTable<T> = { lower: Uint8Array; value: T }[][];

const ENCODER = new TextEncoder();

function addName<T>(table: NameTable<T>, name: string, value: T): void {
  (table[name.length] ??= []).push({ lower: ENCODER.encode(name.toLowerCase()), value });
}

/** The entry named `s[at..end)`, if any. */
function lookupName<T>(table: NameTable<T>, s: string, at: number, end: number): T | undefined {
  const entries = table[end - at];
  if (entries === undefined) return undefined;
  for (const { lower, value } of entries) {
    let k = 0;
    // Table names are letters and digits; `| 0x20` folds letter case and leaves digits alone, and
    // maps no other name character (`_ - .`) onto a letter or digit.
    while (k < lower.length && (s.charCodeAt(at + k) | 0x20) === lower[k]) k++;
    if (k === lower.length) return value;
  }
  return undefined;
}

/** A field of a compiled fragment and where its value goes in {@link FieldValues}. */
interface CompiledField {
  def: FieldDef;
  slot: number;
  /** `def.unset`, or null, so the common case skips a search. */
  unset: readonly number[] | null;
  /** `def.range`, or null. */
  range: PlausibleRange | null;
  /** Character codes of the name as the devices write it, for the scanner's fast path. */
  name: Uint8Array;
}

/** A fragment definition with its name lookups prepared. */
interface CompiledFragment {
  def: FragmentDef;
  /** Fields in table order, which is the order devices send them in. */
  order: CompiledField[];
  /** Character codes of the root name as the devices write it. */
  rootName: Uint8Array;
  /** Fields by name. */
  fields: NameTable<CompiledField>;
  /** Numbered fields by base name (`IntervalData` for `IntervalData7`). */
  numbered: NameTable<CompiledField>;
  hasNumbered: boolean;
  /** Value slot by canonical field name. */
  slots: Map<string, number>;
  /** kW/kWh fields, scaled by the fragment's Multiplier/Divisor. */
  metered: CompiledField[];
  required: CompiledField[];
  /** Fields the fragment's numbers are scaled with (`FieldDef.scaling`). */
  scaling: CompiledField[];
}

function compile(def: FragmentDef): CompiledFragment {
  const compiled: CompiledFragment = {
    def,
    order: [],
    rootName: ENCODER.encode(def.root),
    fields: [],
    numbered: [],
    hasNumbered: false,
    slots: new Map(),
    metered: [],
    required: [],
    scaling: [],
  };
  def.fields.forEach((f, slot) => {
    const field = {
      def: f,
      slot,
      unset: f.unset ?? null,
      range: f.range ?? null,
      name: ENCODER.encode(f.name),
    };
    compiled.order.push(field);
    addName(compiled.fields, f.name, field);
    compiled.slots.set(f.name, slot);
    if (f.numbered) {
      addName(compiled.numbered, f.name, field);
      compiled.hasNumbered = true;
    }
    if (f.unit === "kW" || f.unit === "kWh") compiled.metered.push(field);
    if (f.required) compiled.required.push(field);
    if (f.scaling) compiled.scaling.push(field);
  });
  return compiled;
}

const ROOTS: NameTable<CompiledFragment> = [];
for (const def of FRAGMENTS) addName(ROOTS, def.root, compile(def));
const COMMON = compile({ root: "", kind: "unknown", fields: COMMON_FIELDS });

/**
 * Where the last {@link scanFragment} found the root name and each child, as offsets into the
 * fragment: `[nameStart, nameEnd, textStart, textEnd]` per child, text untrimmed. Shared scratch
 * rather than per-call arrays because decoding is synchronous and never re-entered; it saves the
 * name and text strings the decoder would otherwise cut out of every fragment and throw away.
 */
const scan = {
  rootStart: 0,
  rootEnd: 0,
  /** The fragment children were resolved against (COMMON for unknown roots), if asked to. */
  compiled: null as CompiledFragment | null,
  /** Whether the root is one `fields.ts` defines. */
  known: false,
  children: 0,
  spans: new Int32Array(4 * 64),
  /** Each child's field when resolved; null when the fragment does not define that child. */
  fields: [] as (CompiledField | null)[],
};

/** Records a child in {@link scan}, growing its span array when needed. */
function addChild(
  nameStart: number,
  nameEnd: number,
  textStart: number,
  textEnd: number,
  field: CompiledField | null,
): void {
  const k = scan.children++;
  const at = 4 * k;
  if (at === scan.spans.length) {
    const grown = new Int32Array(2 * at);
    grown.set(scan.spans);
    scan.spans = grown;
  }
  const spans = scan.spans;
  spans[at] = nameStart;
  spans[at + 1] = nameEnd;
  spans[at + 2] = textStart;
  spans[at + 3] = textEnd;
  scan.fields[k] = field;
}

/** Whether the name at `at` is exactly `name` (not merely starting with it). */
function isExactName(s: string, at: number, name: Uint8Array): boolean {
  for (let k = 0; k < name.length; k++) if (s.charCodeAt(at + k) !== name[k]) return false;
  return !isNameChar(s.charCodeAt(at + name.length));
}

/** The field of `c` named `s[at..end)`, numbered fields (`Price2`) included. */
function resolveField(
  c: CompiledFragment,
  s: string,
  at: number,
  end: number,
): CompiledField | null {
  const field = lookupName(c.fields, s, at, end);
  if (field !== undefined) return field;
  if (!c.hasNumbered) return null;
  const numberAt = numberStart(s, at, end);
  return numberAt < end ? lookupName(c.numbered, s, at, numberAt) ?? null : null;
}

/** Start of the decimal suffix of the name `s[at..end)` (`end` when there is none). */
function numberStart(s: string, at: number, end: number): number {
  let k = end;
  while (k > at && s.charCodeAt(k - 1) >= 0x30 && s.charCodeAt(k - 1) <= 0x39) k--;
  return k;
}

/** Root name of the last scan, for messages and unknown fragments. */
function scannedRoot(xml: string): string {
  return xml.slice(scan.rootStart, scan.rootEnd);
}

/** Name of child `k` of the last scan. */
function childName(xml: string, k: number): string {
  return xml.slice(scan.spans[4 * k], scan.spans[4 * k + 1]);
}

/** Entity-decoded, trimmed text of child `k` of the last scan. */
function childText(xml: string, k: number, warnings: string[]): string {
  const text = trimSpace(xml.slice(scan.spans[4 * k + 2], scan.spans[4 * k + 3]));
  return text.includes(AMP) ? unescapeText(text, childName(xml, k), warnings) : text;
}

/** Failure of {@link scanFragment}; `rootKnown` says whether {@link scan} holds the root name. */
interface ScanError {
  rootKnown: boolean;
  error: string;
}

function malformed(error: string): ScanError {
  return { rootKnown: true, error: `not well-formed: ${error}` };
}

/**
 * Checks that `xml` is one flat fragment and fills {@link scan}. Rejects anything that is not
 * well-formed: nested elements, text directly in the root, attributes, mismatched or missing
 * close tags, trailing content. Returns null when the fragment is well-formed. With `roots`, also
 * looks the root up there and resolves every child to its field.
 *
 * Devices send children in table order with the names as the table spells them, so with `roots`
 * each child name is first compared with the next expected field's, which reads every character
 * once instead of three times (find the name's end, look it up, match the close tag). A name that
 * does not fit takes the general path; both accept exactly the same input.
 */
function scanFragment(
  xml: string,
  roots: NameTable<CompiledFragment> | null,
): ScanError | null {
  const len = xml.length;
  scan.children = 0;
  scan.compiled = null;
  scan.known = false;
  let i = skipSpace(xml, 0);
  if (xml.charCodeAt(i) !== LT) {
    return { rootKnown: false, error: "not well-formed: does not start with a start tag" };
  }
  let end = nameEnd(xml, i + 1);
  if (end === i + 1) {
    return { rootKnown: false, error: "not well-formed: malformed root start tag" };
  }
  const rootStart = i + 1;
  const rootLen = end - rootStart;
  scan.rootStart = rootStart;
  scan.rootEnd = end;
  let c: CompiledFragment | null = null;
  if (roots !== null) {
    c = lookupName(roots, xml, rootStart, end) ?? null;
    scan.known = c !== null;
    c ??= COMMON;
    scan.compiled = c;
  }
  /** Slot of the field expected next. */
  let next = 0;
  i = skipSpace(xml, end);
  if (xml.charCodeAt(i) === SLASH && xml.charCodeAt(i + 1) === GT) {
    return skipSpace(xml, i + 2) < len ? malformed(`content after <${scannedRoot(xml)}/>`) : null;
  }
  if (xml.charCodeAt(i) !== GT) {
    const root = scannedRoot(xml);
    return malformed(
      isLetter(xml.charCodeAt(i)) ? `attributes on <${root}>` : `malformed <${root}>`,
    );
  }
  i++;
  for (;;) {
    i = skipSpace(xml, i);
    if (i >= len) return malformed(`<${scannedRoot(xml)}> is never closed`);
    if (xml.charCodeAt(i) !== LT) {
      return malformed(`text directly inside <${scannedRoot(xml)}>`);
    }
    if (xml.charCodeAt(i + 1) === SLASH) {
      // A known root matches its table spelling case-insensitively, and so its exact close tag.
      end = scan.known && isExactName(xml, i + 2, c!.rootName)
        ? i + 2 + rootLen
        : closeNameEnd(xml, i + 2, rootStart, rootLen);
      if (end < 0) {
        const found = xml.slice(i + 2, nameEnd(xml, i + 2));
        return malformed(`expected </${scannedRoot(xml)}>, found </${found}>`);
      }
      i = skipSpace(xml, end);
      if (xml.charCodeAt(i) !== GT) return malformed(`malformed </${scannedRoot(xml)}>`);
      if (skipSpace(xml, i + 1) < len) {
        return malformed(`content after </${scannedRoot(xml)}>`);
      }
      return null;
    }
    const nameStart = i + 1;
    const expected = c !== null && next < c.order.length ? c.order[next] : null;
    let field: CompiledField | null = null;
    // Whether the name is exactly `field`'s table spelling, so the close tag can be checked
    // against that spelling alone.
    let exact = false;
    if (expected !== null && isExactName(xml, nameStart, expected.name)) {
      field = expected;
      exact = true;
      end = nameStart + expected.name.length;
    } else {
      end = nameEnd(xml, nameStart);
      if (end === nameStart) return malformed(`malformed tag inside <${scannedRoot(xml)}>`);
      if (c !== null) field = resolveField(c, xml, nameStart, end);
    }
    if (field !== null) next = field.slot + 1;
    const childNameEnd = end;
    i = skipSpace(xml, end);
    if (xml.charCodeAt(i) === SLASH && xml.charCodeAt(i + 1) === GT) {
      addChild(nameStart, childNameEnd, i, i, field);
      i += 2;
      continue;
    }
    if (xml.charCodeAt(i) !== GT) {
      return malformed(
        isLetter(xml.charCodeAt(i))
          ? `attributes on <${xml.slice(nameStart, childNameEnd)}>`
          : `malformed <${xml.slice(nameStart, childNameEnd)}>`,
      );
    }
    const textStart = i + 1;
    const lt = xml.indexOf("<", textStart);
    if (lt < 0) return malformed(`<${xml.slice(nameStart, childNameEnd)}> is never closed`);
    if (xml.charCodeAt(lt + 1) !== SLASH) {
      return malformed(
        `element nested in <${xml.slice(nameStart, childNameEnd)}> (fragments are flat)`,
      );
    }
    end = exact && isExactName(xml, lt + 2, field!.name)
      ? lt + 2 + field!.name.length
      : closeNameEnd(xml, lt + 2, nameStart, childNameEnd - nameStart);
    if (end < 0) {
      const found = xml.slice(lt + 2, nameEnd(xml, lt + 2));
      return malformed(`expected </${xml.slice(nameStart, childNameEnd)}>, found </${found}>`);
    }
    i = skipSpace(xml, end);
    if (xml.charCodeAt(i) !== GT) {
      return malformed(`malformed </${xml.slice(nameStart, childNameEnd)}>`);
    }
    i++;
    addChild(nameStart, childNameEnd, textStart, lt, field);
  }
}

/**
 * Parses one flat fragment. Rejects anything that is not well-formed: nested elements, text
 * directly in the root, attributes, mismatched or missing close tags, trailing content.
 */
export function parseFragmentXml(xml: string): FragmentXmlResult {
  const failure = scanFragment(xml, null);
  if (failure !== null) {
    return { ok: false, root: failure.rootKnown ? scannedRoot(xml) : null, error: failure.error };
  }
  const warnings: string[] = [];
  const names: string[] = [];
  const texts: string[] = [];
  for (let k = 0; k < scan.children; k++) {
    names.push(childName(xml, k));
    texts.push(childText(xml, k, warnings));
  }
  return { ok: true, root: scannedRoot(xml), names, texts, warnings };
}

// ---------------------------------------------------------------------------------------------
// Field parsing, driven by fields.ts
//
// Parsers read a child's text in place as `s[a..b)` and cut a string out only for values that
// are strings anyway (and for error messages).

type Value = number | bigint | string | boolean | null;

/** Value of each ASCII hex digit, -1 for every other code; a table beats range tests here. */
const HEX_VALUE = new Int8Array(128).fill(-1);
for (let d = 0; d < 16; d++) {
  HEX_VALUE[d.toString(16).charCodeAt(0)] = d;
  HEX_VALUE[d.toString(16).toUpperCase().charCodeAt(0)] = d;
}

/** Digit value of a hex character code, -1 if it is not one. */
function hexDigit(c: number): number {
  return c < 128 ? HEX_VALUE[c] : -1;
}

/** Whether `s[a..b)` starts with `0x`/`0X`. */
function hasHexPrefix(s: string, a: number, b: number): boolean {
  return b - a >= 3 && s.charCodeAt(a) === 0x30 && (s.charCodeAt(a + 1) | 0x20) === 0x78;
}

/** `0x…` → number (bigint above 2^53); null when not a valid prefixed hex literal. */
function parseHex(s: string, a: number, b: number): number | bigint | null {
  if (!hasHexPrefix(s, a, b)) return null;
  let v = 0;
  for (let k = a + 2; k < b; k++) {
    const d = hexDigit(s.charCodeAt(k));
    if (d < 0) return null;
    v = v * 16 + d;
  }
  return v <= Number.MAX_SAFE_INTEGER ? v : BigInt(s.slice(a, b));
}

/** A `0x…` identifier lower-cased, or null when not a valid prefixed hex literal. */
function parseId(s: string, a: number, b: number): string | null {
  if (!hasHexPrefix(s, a, b)) return null;
  let upper = false;
  for (let k = a + 2; k < b; k++) {
    const c = s.charCodeAt(k);
    if (hexDigit(c) < 0) return null;
    if (c >= 0x41 && c <= 0x46) upper = true;
  }
  // Devices send lower case; only then can the text be kept as it is.
  const id = s.slice(a, b);
  return upper || s.charCodeAt(a + 1) === 0x58 ? id.toLowerCase() : id;
}

const MAX_UINT64 = 0xffff_ffff_ffff_ffffn;
const UINT32_MAX = 0xffff_ffff;
const INT24_INVALID = -0x800000;

/** A field's text could not be parsed; `error` says why. */
interface FieldError {
  error: string;
}

/** Parses one child's text `s[a..b)` (trimmed, non-empty) by its kind. */
function parseField(def: FieldDef, s: string, a: number, b: number): Value | FieldError {
  switch (def.kind) {
    case "text":
      return s.slice(a, b);
    case "yn": {
      if (b - a === 1) {
        const c = s.charCodeAt(a) | 0x20;
        if (c === 0x79) return true;
        if (c === 0x6e) return false;
      }
      return { error: `expected Y or N, got "${s.slice(a, b)}"` };
    }
    case "dec": {
      let v = 0;
      for (let k = a; k < b; k++) {
        const c = s.charCodeAt(k);
        if (c < 0x30 || c > 0x39) {
          return { error: `expected a decimal number, got "${s.slice(a, b)}"` };
        }
        v = v * 10 + (c - 0x30);
      }
      // Up to 15 digits are exact in a double.
      return b - a <= 15 ? v : { error: `decimal number out of range: "${s.slice(a, b)}"` };
    }
    case "id":
      return parseId(s, a, b) ?? { error: `expected 0x-prefixed hex, got "${s.slice(a, b)}"` };
    default:
      break;
  }
  const v = parseHex(s, a, b);
  if (v === null) return { error: `expected 0x-prefixed hex, got "${s.slice(a, b)}"` };
  switch (def.kind) {
    case "uint64":
      return typeof v === "bigint" && v > MAX_UINT64
        ? { error: `wider than 64 bits: ${s.slice(a, b)}` }
        : v;
    case "hex":
      return typeof v === "bigint" ? { error: `out of range: ${s.slice(a, b)}` } : v;
    case "ts":
      if (typeof v === "bigint" || v > UINT32_MAX) {
        return { error: `wider than 32 bits: ${s.slice(a, b)}` };
      }
      return v === UINT32_MAX ? null : (v + ZIGBEE_EPOCH_OFFSET_S) * 1000;
    case "demand": {
      if (typeof v === "bigint" || v > UINT32_MAX) {
        return { error: `wider than 32 bits: ${s.slice(a, b)}` };
      }
      // Negative demand comes sign-extended to 32 bits; 6-digit values are ZigBee int24.
      const signed = b - a - 2 > 6 ? v | 0 : v >= 0x800000 ? v - 0x1000000 : v;
      return signed === INT24_INVALID ? null : signed;
    }
  }
  return null;
}

/** A parsed value with its suffix number for numbered fields (`Price2` → 2). */
interface ListEntry {
  n: number | null;
  value: Value;
}

/** The parsed children of one fragment, by field slot. */
class FieldValues {
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
 * Parses every known child of the last scanned fragment into `FieldValues`, collecting warnings.
 * `texts` are the children's decoded texts when some need entity decoding; otherwise each text is
 * read in place.
 */
function readFields(xml: string, texts: string[] | null, warnings: string[]): FieldValues {
  const c = scan.compiled!;
  const values = new FieldValues(c);
  const spans = scan.spans;
  for (let k = 0; k < scan.children; k++) {
    const field = scan.fields[k];
    if (field === null) continue;
    // The text as `s[a..b)`: in place unless it needs trimming or entity decoding.
    let s = xml;
    let a = spans[4 * k + 2];
    let b = spans[4 * k + 3];
    if (
      texts !== null || (a < b && (isSpace(xml.charCodeAt(a)) || isSpace(xml.charCodeAt(b - 1))))
    ) {
      s = texts === null ? trimSpace(xml.slice(a, b)) : texts[k];
      a = 0;
      b = s.length;
    }
    // Empty elements (EAGLE sends a whole empty MessageCluster) count as absent.
    if (a === b) continue;
    const def = field.def;
    let value = parseField(def, s, a, b);
    if (value !== null && typeof value === "object") {
      value = refuse(values, def, value.error, warnings);
    } else if (typeof value === "number" && field.unset?.includes(value)) {
      value = null;
    } else if (
      field.range !== null && (typeof value === "number" || typeof value === "bigint") &&
      !inRange(value, field.range)
    ) {
      value = refuse(values, def, `out of range: ${s.slice(a, b)}`, warnings);
    } else if (typeof value === "number" && def.unit === "min") {
      value *= 60;
    }
    if (def.repeated || def.numbered) {
      const nameStart = spans[4 * k];
      const nameEnd = spans[4 * k + 1];
      const numberAt = def.numbered ? numberStart(xml, nameStart, nameEnd) : nameEnd;
      const n = numberAt < nameEnd ? Number(xml.slice(numberAt, nameEnd)) : null;
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
    const scale = (v: Value): Value => {
      if (typeof v !== "number" && typeof v !== "bigint") return v;
      const scaled = scaleToMilli(v, multiplier, divisor);
      if (def.scaledRange === undefined || isPlausible(scaled, def.scaledRange)) return scaled;
      return refuse(values, def, `implausible once scaled: ${scaled} W(h)`, warnings);
    };
    if (values.hasSlot(slot)) values.replace(slot, scale(values.at(slot)));
    for (const e of values.listAt(slot)) e.value = scale(e.value);
  }
}

/** Why the fragment cannot become an event (a scaling value or a required one unusable). */
function missingRequired(c: CompiledFragment, values: FieldValues): string | null {
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
// Event builders

function iso(year: number, month: number, day: number): string | null {
  const d = new Date(Date.UTC(year, month - 1, day));
  return d.getUTCFullYear() === year && d.getUTCMonth() === month - 1 && d.getUTCDate() === day
    ? d.toISOString().slice(0, 10)
    : null;
}

const DATE_CODE = /^(\d{4})(\d{2})(\d{2})(.*)$/s;
const FILLER = /^\u00ff*$/;

/** `DateCode` = `YYYYMMDD` + lot; sixteen 0xFF bytes are a known EMU-2 filler, not an error. */
function dateCode(
  text: string | null,
  warnings: string[],
): { date: string | null; lot: string | null } {
  if (text === null || FILLER.test(text)) return { date: null, lot: null };
  const m = DATE_CODE.exec(text);
  const date = m ? iso(Number(m[1]), Number(m[2]), Number(m[3])) : null;
  if (!m || date === null) {
    warnings.push(`DateCode: no YYYYMMDD date in "${text}"`);
    return { date: null, lot: null };
  }
  return { date, lot: m[4] === "" ? null : m[4] };
}

function checkUnit(values: FieldValues, warnings: string[]): void {
  const unit = values.num("UnitOfMeasure");
  if (unit !== null && unit !== 0) {
    warnings.push(`UnitOfMeasure: 0x${unit.toString(16)} is not kW/kWh; value decoded as kW/kWh`);
  }
}

function price(raw: number | null, trailingDigits: number): number | null {
  return raw === null ? null : raw / 10 ** trailingDigits;
}

function build(def: FragmentDef, v: FieldValues, warnings: string[]): MeterEvent {
  const base = {
    fragment: def.root,
    device: v.str("DeviceMacId"),
    meter: v.str("MeterMacId"),
    timeMs: v.num("TimeStamp"),
  };
  switch (def.kind) {
    case "demand":
      checkUnit(v, warnings);
      return {
        ...base,
        kind: "demand",
        demandW: v.num("Demand"),
        digitsRight: v.num("DigitsRight"),
      };
    case "summation":
      checkUnit(v, warnings);
      return {
        ...base,
        kind: "summation",
        summationDeliveredWh: v.num("SummationDelivered")!,
        summationReceivedWh: v.num("SummationReceived"),
        digitsRight: v.num("DigitsRight"),
      };
    case "price": {
      const currencyCode = v.num("Currency");
      return {
        ...base,
        kind: "price",
        pricePerKWh: price(v.num("Price"), v.num("TrailingDigits") ?? 0),
        currencyCode,
        currency: currencyCode === null ? null : CURRENCY_ALPHA.get(currencyCode) ?? null,
        tier: v.num("Tier"),
        label: v.str("RateLabel") ?? v.str("TierLabel"),
        startTimeMs: v.num("StartTime"),
        durationS: v.num("Duration"),
      };
    }
    case "blockPrice": {
      const currencyCode = v.num("Currency");
      const trailingDigits = v.num("TrailingDigits") ?? 0;
      const thresholds = v.list("Threshold");
      const blocks: PriceBlock[] = [];
      for (const p of v.list("Price")) {
        if (typeof p.value !== "number") continue;
        const t = thresholds.find((e) => e.n === p.n)?.value;
        blocks.push({
          thresholdWh: typeof t === "number" ? t : null,
          pricePerKWh: p.value / 10 ** trailingDigits,
        });
      }
      return {
        ...base,
        kind: "blockPrice",
        currencyCode,
        currency: currencyCode === null ? null : CURRENCY_ALPHA.get(currencyCode) ?? null,
        blocks,
      };
    }
    case "message":
      return {
        ...base,
        kind: "message",
        messageId: v.str("Id"),
        text: v.str("Text") ?? "",
        confirmationRequired: v.bool("ConfirmationRequired") ?? false,
        confirmed: v.bool("Confirmed") ?? false,
        queue: v.str("Queue"),
        priority: v.str("Priority"),
        startTimeMs: v.num("StartTime"),
        durationS: v.num("Duration"),
      };
    case "time":
      return {
        ...base,
        timeMs: v.num("UTCTime"),
        kind: "time",
        utcTimeMs: v.num("UTCTime"),
        localTimeMs: v.num("LocalTime"),
      };
    case "connection": {
      const status = v.str("Status")!;
      return {
        ...base,
        meter: base.meter ?? v.str("CoordMacId"),
        kind: "connection",
        status,
        connected: status.toLowerCase() === "connected",
        description: v.str("Description"),
        statusCode: v.num("StatusCode"),
        extPanId: v.str("ExtPanId"),
        channel: v.num("Channel"),
        shortAddr: v.str("ShortAddr"),
        linkStrengthPercent: v.num("LinkStrength"),
      };
    }
    case "deviceInfo": {
      const { date, lot } = dateCode(v.str("DateCode"), warnings);
      return {
        ...base,
        kind: "deviceInfo",
        installCode: v.str("InstallCode"),
        linkKey: v.str("LinkKey"),
        firmwareVersion: v.str("FWVersion"),
        hardwareVersion: v.str("HWVersion"),
        imageType: v.str("ImageType"),
        manufacturer: v.str("Manufacturer"),
        modelId: v.str("ModelId"),
        dateCodeDate: date,
        dateCodeLot: lot,
      };
    }
    case "meterList":
      return {
        ...base,
        meter: null,
        kind: "meterList",
        meters: v.list("MeterMacId").flatMap((e) => typeof e.value === "string" ? [e.value] : []),
      };
    case "meterInfo":
      return {
        ...base,
        kind: "meterInfo",
        meterType: v.str("MeterType"),
        nickName: v.str("NickName"),
        account: v.str("Account"),
        auth: v.str("Auth"),
        host: v.str("Host"),
        enabled: v.bool("Enabled"),
      };
    case "schedule":
      return {
        ...base,
        kind: "schedule",
        event: v.str("Event"),
        frequencyS: v.num("Frequency"),
        enabled: v.bool("Enabled"),
      };
    case "periodUsage": {
      const last = def.root === "LastPeriodUsage";
      return {
        ...base,
        kind: "periodUsage",
        period: last ? "last" : "current",
        usageWh: v.num(last ? "LastUsage" : "CurrentUsage")!,
        startTimeMs: v.num("StartDate"),
        endTimeMs: v.num("EndDate"),
      };
    }
    case "profile": {
      const period = v.num("ProfileIntervalPeriod");
      const intervalS = period === null ? null : PROFILE_INTERVAL_S[period] ?? null;
      if (period !== null && intervalS === null) {
        warnings.push(`ProfileIntervalPeriod: unknown period ${period}`);
      }
      const intervals = profileIntervals(v, warnings);
      return {
        ...base,
        timeMs: v.num("EndTime"),
        kind: "profile",
        endTimeMs: v.num("EndTime"),
        status: v.num("Status")!,
        intervalS,
        intervals,
        intervalsWh: intervals.map(() => null),
      };
    }
    case "fastPoll":
      return {
        ...base,
        kind: "fastPoll",
        frequencyS: v.num("Frequency"),
        endTimeMs: v.num("EndTime"),
      };
    case "deviceWarning":
      return { ...base, kind: "deviceWarning", text: v.str("Text") ?? "" };
    case "unknown":
      return { ...base, kind: "unknown" };
  }
}

/**
 * The IntervalData of a ProfileData, newest first, or none when the fragment cannot be trusted: a
 * value refused (whatever garbled one may have garbled its neighbours; `0xFFFFFF` is the meter's
 * own "invalid" and only that interval's), a NumberOfPeriodsDelivered that disagrees with the
 * values sent or was refused, more than 12 values, or values with a failure Status. A fragment
 * without the count (some EAGLE bodies) is taken at its values.
 */
function profileIntervals(v: FieldValues, warnings: string[]): (number | null)[] {
  const values = v.list("IntervalData").map((e) => typeof e.value === "number" ? e.value : null);
  if (values.length === 0) return values;
  const refused = v.errors?.has("NumberOfPeriodsDelivered") ?? false;
  const delivered = v.num("NumberOfPeriodsDelivered");
  const status = v.num("Status");
  let problem: string | null = null;
  if (v.errors?.has("IntervalData")) problem = "a value refused";
  else if (refused) problem = "NumberOfPeriodsDelivered refused";
  else if (delivered !== null && delivered !== values.length) {
    problem = `NumberOfPeriodsDelivered is ${delivered} but ${values.length} sent`;
  } else if (values.length > PROFILE_PERIODS.max) problem = `${values.length} sent, at most 12`;
  else if (status !== 0) problem = `Status ${status} with ${values.length} IntervalData`;
  if (problem === null) return values;
  warnings.push(`IntervalData: ${problem}; all discarded`);
  return [];
}

function decodeUnknown(xml: string, texts: string[], warnings: string[]): MeterEvent {
  const event = build(COMMON.def, readFields(xml, texts, warnings), warnings);
  event.fragment = scannedRoot(xml);
  if (event.kind === "unknown") {
    event.fields = {};
    for (let k = 0; k < scan.children; k++) {
      const name = childName(xml, k);
      if (!Object.hasOwn(event.fields, name)) event.fields[name] = texts[k];
    }
  }
  return event;
}

/** Decodes one framed fragment. Never throws: every failure is an `ok: false` result. */
export function decodeFragment(xml: string): DecodeResult {
  let scanned = false;
  try {
    const failure = scanFragment(xml, ROOTS);
    if (failure !== null) {
      return {
        ok: false,
        fragment: failure.rootKnown ? scannedRoot(xml) : null,
        error: failure.error,
      };
    }
    scanned = true;
    const warnings: string[] = [];
    // Entity warnings come first, as every child's text is decoded before any field is parsed.
    let texts: string[] | null = null;
    if (!scan.known || xml.includes(AMP, scan.rootEnd)) {
      texts = [];
      for (let k = 0; k < scan.children; k++) texts.push(childText(xml, k, warnings));
    }
    if (!scan.known) return { ok: true, event: decodeUnknown(xml, texts!, warnings), warnings };
    const compiled = scan.compiled!;
    const values = readFields(xml, texts, warnings);
    const missing = missingRequired(compiled, values);
    if (missing !== null) return { ok: false, fragment: compiled.def.root, error: missing };
    const event = build(compiled.def, values, warnings);
    if (event.kind !== "summation") return { ok: true, event, warnings };
    // The manual: a multiplier or divisor of zero means one.
    const scale = {
      multiplier: values.num("Multiplier") || 1,
      divisor: values.num("Divisor") || 1,
    };
    return { ok: true, event, warnings, scale };
  } catch (e) {
    // Defensive: a decoder bug must cost one fragment, not the link.
    const fragment = scanned ? scannedRoot(xml) : null;
    return { ok: false, fragment, error: `decoder failure: ${String(e)}` };
  }
}
