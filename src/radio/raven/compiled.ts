/**
 * The field table of `fields.ts` prepared for the decoder: per fragment, its fields in device
 * order, name lookups in place, value slots, and the fields that scale or are required.
 *
 * @module
 */

import type { PlausibleRange } from "../plausible_range.ts";
import { COMMON_FIELDS, type FieldDef, type FragmentDef, FRAGMENTS } from "./fields.ts";
import { addName, type NameTable } from "./xml_text.ts";

const ENCODER = new TextEncoder();

/** A field of a compiled fragment and where its value goes (its slot in `FieldValues`). */
export interface CompiledField {
  def: FieldDef;
  slot: number;
  /** `def.unset`, or null, so the common case skips a search. */
  unset: readonly number[] | null;
  /** `def.range`, or null. */
  range: PlausibleRange | null;
  /** Character codes of the name as the devices write it, for the scanner's fast path. */
  name: Uint8Array;
  /** Codes of `<Name>` and `</Name>` as the devices write them, for the scanner's fastest path. */
  openTag: Uint8Array;
  closeTag: Uint8Array;
}

/** A fragment definition with its name lookups prepared. */
export interface CompiledFragment {
  def: FragmentDef;
  /** Fields in table order, which is the order devices send them in. */
  order: CompiledField[];
  /** Character codes of the root name as the devices write it. */
  rootName: Uint8Array;
  /** Codes of `</Root>` as the devices write it. */
  rootCloseTag: Uint8Array;
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
    rootCloseTag: ENCODER.encode(`</${def.root}>`),
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
      openTag: ENCODER.encode(`<${f.name}>`),
      closeTag: ENCODER.encode(`</${f.name}>`),
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

/** Every fragment `fields.ts` defines, by root name. */
export const ROOTS: NameTable<CompiledFragment> = [];
for (const def of FRAGMENTS) addName(ROOTS, def.root, compile(def));
/** The fields any fragment may carry: what an unknown root is read with. */
export const COMMON = compile({ root: "", kind: "unknown", fields: COMMON_FIELDS });
