/**
 * Which kinds of meter data an app's grant includes, from the ESPI function blocks (`FB=…`) of its
 * scope. This table is the one place that says so: GraphQL refuses fields of kinds a grant lacks
 * (`@grantedData` in `schema/openseg.graphql`, whose `GrantedData` enum must name exactly these
 * kinds), the ESPI feed leaves them out, and the consent page lists them in the words below.
 *
 * A kind is granted when the scope holds any one of its function blocks. ESPI's own block names
 * are in the comments; the words are what the homeowner reads.
 *
 * @module
 */

import type { EspiScope } from "./caller.ts";

export interface GrantedDataRule {
  /** ESPI function blocks, any one of which grants the kind. */
  functionBlocks: readonly number[];
  /** Plain words, for the consent page and for refusals. */
  words: string;
}

export const GRANTED_DATA = {
  /** FB 1 "common": the meter's name, when it was last heard, join state and signal. */
  METER_INFO: { functionBlocks: [1], words: "basic meter information" },
  /** FB 4 "interval metering", FB 5 "interval electricity metering". */
  INTERVAL_ENERGY: { functionBlocks: [4, 5], words: "electricity use per time interval" },
  /** FB 6 "demand electricity metering": latest demand, demand series, live demand. */
  DEMAND: { functionBlocks: [6], words: "power demand" },
  /** FB 7 "net metering", FB 8 "forward and reverse metering". */
  EXPORTED_ENERGY: { functionBlocks: [7, 8], words: "energy sent to the grid" },
  /** FB 9 "register values". */
  REGISTERS: { functionBlocks: [9], words: "meter register readings" },
  /** FB 12 "cost of interval data", FB 16 "usage summary with cost": prices and costs. */
  COST: { functionBlocks: [12, 16], words: "prices and costs" },
  /**
   * FB 15 "usage summary", and the summaries with more in them: FB 16 (with cost) and FB 20
   * (with demands and peak demands), which would be useless without the summary itself.
   */
  USAGE_SUMMARY: { functionBlocks: [15, 16, 20], words: "usage summaries" },
  /** FB 6 (demand), FB 20 "usage summary with demands and peak demands". */
  PEAK_DEMAND: { functionBlocks: [6, 20], words: "peak demand" },
} as const satisfies Record<string, GrantedDataRule>;

export type GrantedData = keyof typeof GRANTED_DATA;

/** Every kind, in the table's order (the order lists and messages use). */
export const GRANTED_DATA_KINDS = Object.keys(GRANTED_DATA) as GrantedData[];

/** What the owner reads: everything. */
export const ALL_GRANTED_DATA: ReadonlySet<GrantedData> = new Set(GRANTED_DATA_KINDS);

/** The kinds a scope grants, in the table's order. */
export function grantedData(scope: Pick<EspiScope, "functionBlocks">): Set<GrantedData> {
  const granted = new Set<GrantedData>();
  for (const kind of GRANTED_DATA_KINDS) {
    const blocks: readonly number[] = GRANTED_DATA[kind].functionBlocks;
    if (blocks.some((block) => scope.functionBlocks.includes(block))) granted.add(kind);
  }
  return granted;
}

/** `ESPI function block 6`, `ESPI function blocks 12 or 16`: what would grant `kind`. */
export function functionBlocksInWords(kind: GrantedData): string {
  const blocks: readonly number[] = GRANTED_DATA[kind].functionBlocks;
  if (blocks.length === 1) return `ESPI function block ${blocks[0]}`;
  return `ESPI function blocks ${blocks.slice(0, -1).join(", ")} or ${blocks.at(-1)}`;
}
