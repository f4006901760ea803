/**
 * The chart's data shaping without a browser: view windows, gaps in the demand line, energy bins,
 * price tiers recovered from rounded interval costs, and time ticks that fit the width.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  bandTiers,
  CHART_VIEWS,
  demandRuns,
  energyBars,
  niceCeiling,
  priceBands,
  timeTicks,
  viewWindow,
} from "../../src/web/chart_data.ts";
import type { IntervalReading } from "../../src/web/queries.ts";

const HOUR_MS = 3_600_000;
const T0_MS = Date.parse("2024-06-03T00:00:00Z");

function interval(startMs: number, deliveredWh: number, ratePerKWh: number | null) {
  return {
    start: new Date(startMs).toISOString(),
    durationS: 900,
    deliveredWh,
    receivedWh: deliveredWh === 0 ? 200 : 0,
    // ESPI-style rounding to 1/100 000 of the currency.
    cost: ratePerKWh === null ? null : Math.round(deliveredWh / 1000 * ratePerKWh * 1e5) / 1e5,
    currency: "USD",
  } satisfies IntervalReading;
}

Deno.test("a view's window ends at the bucket boundary after the newest reading", () => {
  const view = CHART_VIEWS.find((v) => v.hours === 24)!;
  const window = viewWindow(view, T0_MS + 7 * 60_000);
  assert.equal(window.toMs, T0_MS + 15 * 60_000);
  assert.equal(window.toMs - window.fromMs, 24 * HOUR_MS);
});

Deno.test("missing demand buckets split the line", () => {
  const bucket = (minute: number) => ({
    start: new Date(T0_MS + minute * 60_000).toISOString(),
    durationS: 300,
    avgW: minute,
  });
  const runs = demandRuns([bucket(0), bucket(5), bucket(20), bucket(25)]);
  assert.deepEqual(runs.map((run) => run.length), [2, 2]);
  assert.equal(runs[0][0].timeMs, T0_MS + 150_000);
});

Deno.test("intervals are summed into clock-aligned bars", () => {
  const bars = energyBars(
    [
      interval(T0_MS, 100, 0.1),
      interval(T0_MS + 900_000, 50, 0.1),
      interval(T0_MS + HOUR_MS, 0, 0.1),
    ],
    HOUR_MS,
  );
  assert.deepEqual(bars.map((bar) => [bar.startMs, bar.deliveredWh, bar.receivedWh]), [
    [T0_MS, 150, 0],
    [T0_MS + HOUR_MS, 0, 200],
  ]);
});

Deno.test("price tiers survive rounded costs and exporting intervals", () => {
  const intervals = [
    interval(T0_MS, 400, 0.089),
    interval(T0_MS + 900_000, 3, 0.089), // a tiny interval: its rounded cost is off by ~2 %
    interval(T0_MS + 1_800_000, 0, 0.132), // exporting: says nothing about the price
    interval(T0_MS + 2_700_000, 500, 0.132),
    interval(T0_MS + 3_600_000, 20, 0.287),
    interval(T0_MS + 4_500_000, 600, 0.287),
  ];
  const bands = priceBands(intervals);
  assert.deepEqual(bands.map((band) => [band.level, band.ratePerKWh]), [
    [1, 0.089],
    [2, 0.132],
    [3, 0.287],
  ]);
  assert.equal(bands[0].endMs, T0_MS + 2_700_000, "the exporting interval extends the band");
  assert.deepEqual(bandTiers(bands).map((tier) => tier.level), [1, 2, 3]);
});

Deno.test("time ticks fall on whole hours and leave room for their labels", () => {
  const window = { fromMs: T0_MS + 10 * 60_000, toMs: T0_MS + 24 * HOUR_MS + 10 * 60_000 };
  const narrow = timeTicks(window, 300, 50, 0);
  const wide = timeTicks(window, 1200, 50, 0);
  assert.ok(narrow.length <= 6 && narrow.length >= 3, `${narrow.length} ticks at 300 px`);
  assert.ok(wide.length > narrow.length);
  assert.ok([...narrow, ...wide].every((t) => t % HOUR_MS === 0));
  assert.ok(wide.every((t) => t >= window.fromMs && t <= window.toMs));
});

Deno.test("axis ceilings are 1, 2 or 5 times a power of ten", () => {
  assert.deepEqual([0, 80, 100, 101, 2300, 4999].map(niceCeiling), [0, 100, 100, 200, 5000, 5000]);
});
