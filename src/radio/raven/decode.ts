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
import {
  COMMON_FIELDS,
  CURRENCY_ALPHA,
  type FieldDef,
  type FragmentDef,
  FRAGMENTS,
  PROFILE_INTERVAL_S,
  ZIGBEE_EPOCH_OFFSET_S,
} from "./fields.ts";

/** Outcome of {@link decodeFragment}. */
export type DecodeResult =
  | { ok: true; event: MeterEvent; warnings: string[] }
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

/** ASCII case-insensitive equality of `s[at..end)` and `name`. */
function nameMatches(s: string, at: number, end: number, name: string): boolean {
  if (end - at !== name.length) return false;
  for (let k = 0; k < name.length; k++) {
    const a = s.charCodeAt(at + k);
    const b = name.charCodeAt(k);
    if (a !== b && !(isLetter(a) && (a | 0x20) === (b | 0x20))) return false;
  }
  return true;
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

function malformed(root: string, error: string): FragmentXmlResult {
  return { ok: false, root, error: `not well-formed: ${error}` };
}

/** `text` without surrounding XML whitespace; cheap when there is none (the usual case). */
function trimSpace(text: string): string {
  return text.length > 0 &&
      (isSpace(text.charCodeAt(0)) || isSpace(text.charCodeAt(text.length - 1)))
    ? text.trim()
    : text;
}

/**
 * Parses one flat fragment. Rejects anything that is not well-formed: nested elements, text
 * directly in the root, attributes, mismatched or missing close tags, trailing content.
 */
export function parseFragmentXml(xml: string): FragmentXmlResult {
  const len = xml.length;
  let i = skipSpace(xml, 0);
  if (xml.charCodeAt(i) !== LT) {
    return { ok: false, root: null, error: "not well-formed: does not start with a start tag" };
  }
  let end = nameEnd(xml, i + 1);
  if (end === i + 1) {
    return { ok: false, root: null, error: "not well-formed: malformed root start tag" };
  }
  const root = xml.slice(i + 1, end);
  const fail = (error: string): FragmentXmlResult => malformed(root, error);
  const names: string[] = [];
  const texts: string[] = [];
  const warnings: string[] = [];
  i = skipSpace(xml, end);
  if (xml.charCodeAt(i) === SLASH && xml.charCodeAt(i + 1) === GT) {
    return skipSpace(xml, i + 2) < len
      ? fail(`content after <${root}/>`)
      : { ok: true, root, names, texts, warnings };
  }
  if (xml.charCodeAt(i) !== GT) {
    return fail(isLetter(xml.charCodeAt(i)) ? `attributes on <${root}>` : `malformed <${root}>`);
  }
  i++;
  for (;;) {
    i = skipSpace(xml, i);
    if (i >= len) return fail(`<${root}> is never closed`);
    if (xml.charCodeAt(i) !== LT) return fail(`text directly inside <${root}>`);
    if (xml.charCodeAt(i + 1) === SLASH) {
      end = nameEnd(xml, i + 2);
      if (!nameMatches(xml, i + 2, end, root)) {
        return fail(`expected </${root}>, found </${xml.slice(i + 2, end)}>`);
      }
      i = skipSpace(xml, end);
      if (xml.charCodeAt(i) !== GT) return fail(`malformed </${root}>`);
      if (skipSpace(xml, i + 1) < len) return fail(`content after </${root}>`);
      return { ok: true, root, names, texts, warnings };
    }
    end = nameEnd(xml, i + 1);
    if (end === i + 1) return fail(`malformed tag inside <${root}>`);
    const name = xml.slice(i + 1, end);
    i = skipSpace(xml, end);
    if (xml.charCodeAt(i) === SLASH && xml.charCodeAt(i + 1) === GT) {
      names.push(name);
      texts.push("");
      i += 2;
      continue;
    }
    if (xml.charCodeAt(i) !== GT) {
      return fail(isLetter(xml.charCodeAt(i)) ? `attributes on <${name}>` : `malformed <${name}>`);
    }
    const textStart = i + 1;
    const lt = xml.indexOf("<", textStart);
    if (lt < 0) return fail(`<${name}> is never closed`);
    if (xml.charCodeAt(lt + 1) !== SLASH) {
      return fail(`element nested in <${name}> (fragments are flat)`);
    }
    end = nameEnd(xml, lt + 2);
    if (!nameMatches(xml, lt + 2, end, name)) {
      return fail(`expected </${name}>, found </${xml.slice(lt + 2, end)}>`);
    }
    i = skipSpace(xml, end);
    if (xml.charCodeAt(i) !== GT) return fail(`malformed </${name}>`);
    i++;
    let text = trimSpace(xml.slice(textStart, lt));
    if (text.includes(AMP)) text = unescapeText(text, name, warnings);
    names.push(name);
    texts.push(text);
  }
}

// ---------------------------------------------------------------------------------------------
// Field parsing, driven by fields.ts

type Value = number | bigint | string | boolean | null;

/** Digit value of a hex character code, -1 if it is not one. */
function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}

/** Whether `t` is `0x` followed by one or more hex digits. */
function isHexLiteral(t: string): boolean {
  if (t.length < 3 || t.charCodeAt(0) !== 0x30 || (t.charCodeAt(1) | 0x20) !== 0x78) return false;
  for (let k = 2; k < t.length; k++) if (hexDigit(t.charCodeAt(k)) < 0) return false;
  return true;
}

/** `0x…` → number (bigint above 2^53); null when not a valid prefixed hex literal. */
function parseHex(t: string): number | bigint | null {
  if (t.length < 3 || t.charCodeAt(0) !== 0x30 || (t.charCodeAt(1) | 0x20) !== 0x78) return null;
  let v = 0;
  for (let k = 2; k < t.length; k++) {
    const d = hexDigit(t.charCodeAt(k));
    if (d < 0) return null;
    v = v * 16 + d;
  }
  return v <= Number.MAX_SAFE_INTEGER ? v : BigInt(t);
}

const MAX_UINT64 = 0xffff_ffff_ffff_ffffn;
const UINT32_MAX = 0xffff_ffff;
const INT24_INVALID = -0x800000;

/** Parses one child's text by its kind; a string result is an error message. */
function parseField(def: FieldDef, t: string): Value | { error: string } {
  switch (def.kind) {
    case "text":
      return t;
    case "yn": {
      const u = t.toUpperCase();
      if (u === "Y") return true;
      if (u === "N") return false;
      return { error: `expected Y or N, got "${t}"` };
    }
    case "dec": {
      for (let k = 0; k < t.length; k++) {
        const c = t.charCodeAt(k);
        if (c < 0x30 || c > 0x39) return { error: `expected a decimal number, got "${t}"` };
      }
      return t.length <= 15 ? Number(t) : { error: `decimal number out of range: "${t}"` };
    }
    case "id":
      if (!isHexLiteral(t)) return { error: `expected 0x-prefixed hex, got "${t}"` };
      return t.toLowerCase();
    default:
      break;
  }
  const v = parseHex(t);
  if (v === null) return { error: `expected 0x-prefixed hex, got "${t}"` };
  switch (def.kind) {
    case "uint64":
      return typeof v === "bigint" && v > MAX_UINT64 ? { error: `wider than 64 bits: ${t}` } : v;
    case "hex":
      return typeof v === "bigint" ? { error: `out of range: ${t}` } : v;
    case "ts":
      if (typeof v === "bigint" || v > UINT32_MAX) return { error: `wider than 32 bits: ${t}` };
      return v === UINT32_MAX ? null : (v + ZIGBEE_EPOCH_OFFSET_S) * 1000;
    case "demand": {
      if (typeof v === "bigint" || v > UINT32_MAX) return { error: `wider than 32 bits: ${t}` };
      // Negative demand comes sign-extended to 32 bits; 6-digit values are ZigBee int24.
      const signed = t.length - 2 > 6 ? v | 0 : v >= 0x800000 ? v - 0x1000000 : v;
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

/** The parsed children of one fragment, by canonical field name. */
class FieldValues {
  readonly #single = new Map<string, Value>();
  readonly #lists = new Map<string, ListEntry[]>();
  /** Fields present but unparseable, with the reason. */
  readonly errors = new Map<string, string>();

  set(name: string, value: Value): boolean {
    if (this.#single.has(name)) return false;
    this.#single.set(name, value);
    return true;
  }

  add(name: string, entry: ListEntry): void {
    const list = this.#lists.get(name);
    if (list) list.push(entry);
    else this.#lists.set(name, [entry]);
  }

  has(name: string): boolean {
    return this.#single.has(name);
  }

  num(name: string): number | null {
    const v = this.#single.get(name);
    return typeof v === "number" ? v : null;
  }

  str(name: string): string | null {
    const v = this.#single.get(name);
    return typeof v === "string" ? v : null;
  }

  bool(name: string): boolean | null {
    const v = this.#single.get(name);
    return typeof v === "boolean" ? v : null;
  }

  list(name: string): ListEntry[] {
    return this.#lists.get(name) ?? [];
  }

  /** Applies `fn` to every value of `name`, single or listed. */
  map(name: string, fn: (v: Value) => Value): void {
    const v = this.#single.get(name);
    if (v !== undefined) this.#single.set(name, fn(v));
    for (const e of this.#lists.get(name) ?? []) e.value = fn(e.value);
  }
}

/** A fragment definition with its name lookups prepared. */
interface CompiledFragment {
  def: FragmentDef;
  /** Field by name as written and by lower-case name. */
  byName: Map<string, FieldDef>;
  /** Numbered fields by lower-case base name. */
  numbered: Map<string, FieldDef>;
  /** Names of kW/kWh fields, scaled by the fragment's Multiplier/Divisor. */
  metered: string[];
}

function compile(def: FragmentDef): CompiledFragment {
  const byName = new Map<string, FieldDef>();
  const numbered = new Map<string, FieldDef>();
  for (const f of def.fields) {
    byName.set(f.name, f);
    byName.set(f.name.toLowerCase(), f);
    if (f.numbered) numbered.set(f.name.toLowerCase(), f);
  }
  const metered = def.fields.filter((f) => f.unit === "kW" || f.unit === "kWh").map((f) => f.name);
  return { def, byName, numbered, metered };
}

const BY_ROOT = new Map<string, CompiledFragment>();
for (const def of FRAGMENTS) {
  const c = compile(def);
  BY_ROOT.set(def.root, c);
  BY_ROOT.set(def.root.toLowerCase(), c);
}
const COMMON = compile({ root: "", kind: "unknown", fields: COMMON_FIELDS });

/** Length of `name` without its trailing decimal digits. */
function withoutNumber(name: string): number {
  let k = name.length;
  while (k > 0 && name.charCodeAt(k - 1) >= 0x30 && name.charCodeAt(k - 1) <= 0x39) k--;
  return k;
}

/** The field a child name stands for, numbered fields (`Price2`) included. */
function lookup(c: CompiledFragment, name: string): FieldDef | undefined {
  const exact = c.byName.get(name) ?? c.byName.get(name.toLowerCase());
  if (exact || c.numbered.size === 0) return exact;
  const k = withoutNumber(name);
  return k === name.length ? undefined : c.numbered.get(name.slice(0, k).toLowerCase());
}

/** raw × M × 1000 ÷ D exactly, in integers where a JS number could lose precision. */
function scaleToMilli(raw: number | bigint, multiplier: number, divisor: number): number {
  if (typeof raw === "number") {
    const product = raw * multiplier * 1000;
    if (Number.isSafeInteger(product)) return product / divisor;
  }
  const product = BigInt(raw) * BigInt(multiplier) * 1000n;
  const d = BigInt(divisor);
  return Number(product / d) + Number(product % d) / divisor;
}

/** Parses every known child of the fragment into `FieldValues`, collecting warnings. */
function readFields(c: CompiledFragment, xml: FragmentXml, warnings: string[]): FieldValues {
  const values = new FieldValues();
  for (let k = 0; k < xml.names.length; k++) {
    const name = xml.names[k];
    const def = lookup(c, name);
    const text = xml.texts[k];
    // Empty elements (EAGLE sends a whole empty MessageCluster) count as absent.
    if (!def || text === "") continue;
    let value = parseField(def, text);
    if (value !== null && typeof value === "object") {
      warnings.push(`${def.name}: ${value.error}`);
      values.errors.set(def.name, value.error);
      value = null;
    } else if (typeof value === "number" && def.unset?.includes(value)) {
      value = null;
    } else if (typeof value === "number" && def.unit === "min") {
      value *= 60;
    }
    if (def.repeated || def.numbered) {
      const at = def.numbered ? withoutNumber(name) : name.length;
      values.add(def.name, { n: at < name.length ? Number(name.slice(at)) : null, value });
    } else if (!values.set(def.name, value)) {
      warnings.push(`${def.name}: repeated, first value kept`);
    }
  }
  if (c.metered.length > 0) scaleMetered(c.metered, values);
  return values;
}

/** Converts every kW/kWh field to W/Wh with the fragment's own Multiplier and Divisor. */
function scaleMetered(metered: string[], values: FieldValues): void {
  // The manual: a multiplier or divisor of zero means one.
  const multiplier = values.num("Multiplier") || 1;
  const divisor = values.num("Divisor") || 1;
  for (const name of metered) {
    values.map(
      name,
      (v) =>
        typeof v === "number" || typeof v === "bigint" ? scaleToMilli(v, multiplier, divisor) : v,
    );
  }
}

function missingRequired(def: FragmentDef, values: FieldValues): string | null {
  for (const f of def.fields) {
    if (!f.required) continue;
    const error = values.errors.get(f.name);
    if (error !== undefined) return `${def.root}: invalid ${f.name}: ${error}`;
    if (!values.has(f.name)) return `${def.root}: missing ${f.name}`;
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
      return {
        ...base,
        timeMs: v.num("EndTime"),
        kind: "profile",
        endTimeMs: v.num("EndTime"),
        status: v.num("Status")!,
        intervalS,
        intervals: v.list("IntervalData").map((e) => typeof e.value === "number" ? e.value : null),
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

function decodeUnknown(xml: FragmentXml, warnings: string[]): MeterEvent {
  const event = build(COMMON.def, readFields(COMMON, xml, warnings), warnings);
  event.fragment = xml.root;
  if (event.kind === "unknown") {
    event.fields = {};
    for (let k = 0; k < xml.names.length; k++) {
      if (!Object.hasOwn(event.fields, xml.names[k])) event.fields[xml.names[k]] = xml.texts[k];
    }
  }
  return event;
}

/** Decodes one framed fragment. Never throws: every failure is an `ok: false` result. */
export function decodeFragment(xml: string): DecodeResult {
  let root: string | null = null;
  try {
    const parsed = parseFragmentXml(xml);
    if (!parsed.ok) return { ok: false, fragment: parsed.root, error: parsed.error };
    root = parsed.root;
    const warnings = parsed.warnings;
    const compiled = BY_ROOT.get(root) ?? BY_ROOT.get(root.toLowerCase());
    if (!compiled) return { ok: true, event: decodeUnknown(parsed, warnings), warnings };
    const values = readFields(compiled, parsed, warnings);
    const missing = missingRequired(compiled.def, values);
    if (missing !== null) return { ok: false, fragment: compiled.def.root, error: missing };
    return { ok: true, event: build(compiled.def, values, warnings), warnings };
  } catch (e) {
    // Defensive: a decoder bug must cost one fragment, not the link.
    return { ok: false, fragment: root, error: `decoder failure: ${String(e)}` };
  }
}
