/**
 * The benchmark input shared by `bench/ingest.ts` and `bench/decode_bench.ts`: the byte stream a
 * stick would send for one household, so their figures compare.
 *
 * @module
 */

import { createHousehold } from "../src/sim/household.ts";
import { demandHex, formatFragment, hex, tsHex } from "../src/sim/format.ts";

/** Radio and meter MACs of the benchmark stream. */
export const DEVICE = "0xd8d5b90000001234";
export const METER = "0x0013500100001234";

/** The stream a stick would send: demand every 8 s, summation every 64 s, CR LF, indented. */
export function buildStream(count: number): Uint8Array {
  const household = createHousehold({ seed: 42, solar: true });
  const startMs = Date.UTC(2025, 5, 1);
  let text = "";
  for (let i = 0; i < count; i++) {
    const timeMs = startMs + i * 8000;
    const common = [["DeviceMacId", DEVICE], ["MeterMacId", METER], ["TimeStamp", tsHex(timeMs)]];
    if (i % 8 === 7) {
      const registers = household.advanceTo(timeMs);
      text += formatFragment("CurrentSummationDelivered", [
        ...common,
        ["SummationDelivered", hex(Math.floor(registers.summationDeliveredWh), 16)],
        ["SummationReceived", hex(Math.floor(registers.summationReceivedWh), 16)],
        ["Multiplier", "0x00000001"],
        ["Divisor", "0x000003e8"],
        ["DigitsRight", "0x03"],
        ["DigitsLeft", "0x0f"],
        ["SuppressLeadingZero", "Y"],
      ] as [string, string][], "\r\n");
    } else {
      text += formatFragment("InstantaneousDemand", [
        ...common,
        ["Demand", demandHex(household.demandW(timeMs))],
        ["Multiplier", "0x00000001"],
        ["Divisor", "0x000003e8"],
        ["DigitsRight", "0x03"],
        ["DigitsLeft", "0x06"],
        ["SuppressLeadingZero", "Y"],
      ] as [string, string][], "\r\n");
    }
  }
  return new TextEncoder().encode(text);
}
