/**
 * The MeterReadings a usage point publishes and the ReadingType each one has. A channel is one
 * stored series seen through ESPI: interval energy delivered and received (deltaData Wh), average
 * demand (W, signed, so flow "net") and the two summation registers (bulkQuantity Wh).
 *
 * MeterReading ids are the channel numbers below; ReadingType ids are derived from everything the
 * ReadingType says (channel, interval length, currency), so equal ReadingTypes share one id and
 * `ReadingType/{id}` can be answered without a lookup.
 *
 * Each channel names the kinds of granted data (`src/auth/granted_data.ts`) it is: a grant that
 * lacks one of them does not see the channel.
 *
 * @module
 */

import type { GrantedData } from "../auth/granted_data.ts";

export type ChannelName =
  | "energyDelivered"
  | "energyReceived"
  | "demand"
  | "registerDelivered"
  | "registerReceived";

/** ESPI ReadingType fields (espi.xsd element order). */
export interface ReadingTypeFields {
  accumulationBehaviour: number;
  commodity: number;
  currency?: number;
  dataQualifier: number;
  flowDirection: number;
  intervalLength: number;
  kind: number;
  phase: number;
  powerOfTenMultiplier: number;
  timeAttribute: number;
  uom: number;
}

export interface Channel {
  name: ChannelName;
  /** MeterReading id (stable across restarts and grants). */
  meterReadingId: string;
  title: string;
  /** Values carry cost (delivered energy only). */
  priced: boolean;
  /** Published only when the meter exports. */
  exportOnly: boolean;
  /** A grant must include all of these to see the channel. */
  data: readonly GrantedData[];
  fields: (intervalS: number, currencyCode: number | null) => ReadingTypeFields;
}

/** ESPI codes used below (espi.xsd enumerations). */
const Code = {
  bulkQuantity: 1,
  deltaData: 4,
  accumulationNotApplicable: 0,
  electricity: 1,
  average: 2,
  normal: 12,
  forward: 1,
  net: 4,
  reverse: 19,
  demand: 8,
  energy: 12,
  phaseAbc: 769,
  wattHours: 72,
  watts: 38,
} as const;

function energy(flowDirection: number, accumulationBehaviour: number, priced: boolean) {
  return (intervalS: number, currencyCode: number | null): ReadingTypeFields => ({
    accumulationBehaviour,
    commodity: Code.electricity,
    ...(priced && currencyCode !== null ? { currency: currencyCode } : {}),
    dataQualifier: Code.normal,
    flowDirection,
    intervalLength: intervalS,
    kind: Code.energy,
    phase: Code.phaseAbc,
    powerOfTenMultiplier: 0,
    timeAttribute: 0,
    uom: Code.wattHours,
  });
}

export const CHANNELS: readonly Channel[] = [
  {
    name: "energyDelivered",
    meterReadingId: "1",
    title: "Interval energy delivered",
    priced: true,
    exportOnly: false,
    data: ["INTERVAL_ENERGY"],
    fields: energy(Code.forward, Code.deltaData, true),
  },
  {
    name: "energyReceived",
    meterReadingId: "2",
    title: "Interval energy received",
    priced: false,
    exportOnly: true,
    data: ["INTERVAL_ENERGY", "EXPORTED_ENERGY"],
    fields: energy(Code.reverse, Code.deltaData, false),
  },
  {
    name: "demand",
    meterReadingId: "3",
    title: "Average demand",
    priced: false,
    exportOnly: false,
    data: ["DEMAND"],
    fields: (intervalS) => ({
      accumulationBehaviour: Code.accumulationNotApplicable,
      commodity: Code.electricity,
      dataQualifier: Code.average,
      flowDirection: Code.net,
      intervalLength: intervalS,
      kind: Code.demand,
      phase: Code.phaseAbc,
      powerOfTenMultiplier: 0,
      timeAttribute: 0,
      uom: Code.watts,
    }),
  },
  {
    name: "registerDelivered",
    meterReadingId: "4",
    title: "Register energy delivered",
    priced: false,
    exportOnly: false,
    data: ["REGISTERS"],
    fields: energy(Code.forward, Code.bulkQuantity, false),
  },
  {
    name: "registerReceived",
    meterReadingId: "5",
    title: "Register energy received",
    priced: false,
    exportOnly: true,
    data: ["REGISTERS", "EXPORTED_ENERGY"],
    fields: energy(Code.reverse, Code.bulkQuantity, false),
  },
];

/** The channels a meter publishes to a grant: the export ones only when it exports. */
export function channelsFor(exports: boolean, granted: ReadonlySet<GrantedData>): Channel[] {
  return CHANNELS.filter((channel) =>
    (exports || !channel.exportOnly) && channel.data.every((kind) => granted.has(kind))
  );
}

export function channelById(meterReadingId: string): Channel | undefined {
  return CHANNELS.find((channel) => channel.meterReadingId === meterReadingId);
}

/** `1-300-840`: MeterReading id, interval length, currency (0 = none). Parsed back below. */
export function readingTypeId(channel: Channel, intervalS: number, currencyCode: number | null) {
  return `${channel.meterReadingId}-${intervalS}-${channel.priced ? currencyCode ?? 0 : 0}`;
}

/** The ReadingType an id names, or null when the id is not one this gateway makes. */
export function parseReadingTypeId(
  id: string,
): { channel: Channel; intervalS: number; currencyCode: number | null } | null {
  const match = /^([1-5])-([1-9]\d{0,5})-(\d{1,4})$/.exec(id);
  if (!match) return null;
  const channel = channelById(match[1]);
  if (!channel) return null;
  const currencyCode = Number(match[3]) === 0 ? null : Number(match[3]);
  if (!channel.priced && currencyCode !== null) return null;
  return { channel, intervalS: Number(match[2]), currencyCode };
}
