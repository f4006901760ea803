/**
 * ProfileData through the RAVEn adapter's decode path (`decodeChunk`): the constructed capture
 * from the reference folder, scaling with the meter's summation, and the ways a reply is refused.
 *
 * @module
 */

import { referenceFolder } from "../../reference.ts";
import assert from "node:assert/strict";
import type { RadioStats } from "../../../src/radio/adapter.ts";
import type { ProfileDataEvent } from "../../../src/radio/events.ts";
import { FragmentSplitter } from "../../../src/radio/raven/framing.ts";
import { decodeChunk } from "../../../src/radio/raven/adapter.ts";
import { ProfileScaler } from "../../../src/radio/raven/profile_scale.ts";

const CAPTURES = referenceFolder("raven/");
const METER = "0x000781000081fd17";

function summation(multiplier: string, divisor: string, meter = METER): string {
  return `<CurrentSummationDelivered><DeviceMacId>0xd8d5b900000041d7</DeviceMacId>
<MeterMacId>${meter}</MeterMacId><TimeStamp>0x1c908e10</TimeStamp>
<SummationDelivered>0x0000000000100000</SummationDelivered>
<Multiplier>${multiplier}</Multiplier><Divisor>${divisor}</Divisor></CurrentSummationDelivered>\r\n`;
}

function profile(values: string[], extra = "", count = values.length): string {
  const data = values.map((v) => `<IntervalData>${v}</IntervalData>`).join("");
  return `<ProfileData><DeviceMacId>0xd8d5b900000041d7</DeviceMacId><MeterMacId>${METER}</MeterMacId>
<EndTime>0x1c908e10</EndTime><Status>0x00</Status><ProfileIntervalPeriod>6</ProfileIntervalPeriod>
<NumberOfPeriodsDelivered>0x${count.toString(16)}</NumberOfPeriodsDelivered>${extra}${data}
</ProfileData>\r\n`;
}

/** Decodes `text` as one stream, returning the ProfileData events and all warnings. */
function decodeStream(text: string) {
  const stats = {
    bytesRead: 0,
    fragments: 0,
    decodeErrors: 0,
    fieldWarnings: 0,
    unknownFragments: 0,
    droppedBytes: 0,
    overflows: 0,
  } satisfies RadioStats;
  const result = decodeChunk(
    new FragmentSplitter(),
    new TextEncoder().encode(text),
    stats,
    new ProfileScaler(),
  );
  const profiles = result.events.filter((e): e is ProfileDataEvent => e.kind === "profile");
  return { profiles, warnings: result.warnings, errors: result.errors, stats };
}

Deno.test("the constructed capture: newest first, 0xffffff invalid, Status 5 empty", async () => {
  const capture = await Deno.readTextFile(new URL("constructed-profiledata.txt", CAPTURES));
  const { profiles, warnings } = decodeStream(summation("0x000001", "0x0003e8") + capture);
  assert.equal(profiles.length, 2);
  const [data, none] = profiles;
  assert.equal(data.status, 0);
  assert.equal(data.intervalS, 1800);
  // 0x1c908e10 = 479 234 576 s after 2000-01-01.
  assert.equal(data.endTimeMs, (0x1c908e10 + 946_684_800) * 1000);
  assert.deepEqual(data.intervals, [500, 600, null, 200]);
  // Divisor 1000: raw counts are Wh.
  assert.deepEqual(data.intervalsWh, [500, 600, null, 200]);
  assert.equal(none.status, 5);
  assert.deepEqual(none.intervals, []);
  assert.deepEqual(warnings, []);
});

Deno.test("intervals scale with their meter's summation Multiplier/Divisor, 0 meaning 1", () => {
  const scaled = decodeStream(
    summation("0x000003", "0x00000a") + profile(["0x000064", "0x00000a"]),
  );
  // 100 × 3 ÷ 10 kWh = 30 kWh.
  assert.deepEqual(scaled.profiles[0].intervalsWh, [30_000, 3_000]);
  const zeros = decodeStream(summation("0x000000", "0x000000") + profile(["0x000002"]));
  assert.deepEqual(zeros.profiles[0].intervalsWh, [2_000]);
  // Another meter's scaling is not used when the radio has several.
  const other = decodeStream(
    summation("0x000001", "0x0003e8", "0x0000000000000001") +
      summation("0x000001", "0x000001", "0x0000000000000002") + profile(["0x000002"]),
  );
  assert.deepEqual(other.profiles[0].intervalsWh, [null]);
  assert.match(other.warnings.join("\n"), /no summation of this meter/);
});

Deno.test("hostile ProfileData: refused whole and counted, never half-used", () => {
  const cases: [string, string, RegExp][] = [
    ["a value that is no hex", profile(["0x000032", "0xZZ"]), /IntervalData: a value refused/],
    ["beyond a uint24", profile(["0x000032", "0x1000000"]), /a value refused/],
    [
      "16.7 MWh in five minutes",
      profile(["0x000032", "0xfffffe"]),
      /implausible; all discarded/,
    ],
    ["a count that disagrees", profile(["0x000032", "0x000032"], "", 12), /is 12 but 2 sent/],
    ["13 periods", profile(Array(13).fill("0x000032")), /NumberOfPeriodsDelivered refused/],
    [
      "values with a failure Status",
      profile(["0x000032"]).replace("<Status>0x00", "<Status>0x03"),
      /Status 3 with 1 IntervalData/,
    ],
  ];
  for (const [what, fragment, warning] of cases) {
    const { profiles, warnings, stats } = decodeStream(
      summation("0x000001", "0x0003e8") + fragment,
    );
    assert.equal(profiles.length, 1, what);
    assert.ok(profiles[0].intervalsWh.every((wh) => wh === null), what);
    assert.match(warnings.join("\n"), warning, what);
    assert.ok(stats.fieldWarnings >= 1, what);
  }
  // A Status beyond a uint8 cannot be a reply at all.
  const bad = decodeStream(profile([]).replace("<Status>0x00", "<Status>0x100"));
  assert.equal(bad.profiles.length, 0);
  assert.match(bad.errors.join("\n"), /invalid Status/);
});
