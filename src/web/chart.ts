/**
 * The 48-hour chart as hand-written SVG: demand as a line (negative when exporting), interval
 * energy as bars below it (imported up, exported down) and the price tiers as background bands.
 * Small enough that a charting library would cost more bytes than it saves; the data attributes
 * say what was drawn (tests read them).
 *
 * @module
 */

/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="esnext" />

import { svg } from "./dom.ts";
import {
  type ChartView,
  demandRuns,
  type EnergyBar,
  niceCeiling,
  type PriceBand,
  timeTicks,
  type TimeWindow,
} from "./chart_data.ts";
import { formatClock, formatHour, formatPower } from "./format.ts";
import type { DemandBucket } from "./queries.ts";

const HEIGHT_PX = 250;
const MARGIN = { top: 8, right: 16, left: 50 };
/** Room for one time label ("12 PM", "16:00"). */
const TICK_LABEL_PX = 52;
const DEMAND_HEIGHT_PX = 140;
const GAP_PX = 14;
const BARS_HEIGHT_PX = 64;
const AXIS_TOP_PX = MARGIN.top + DEMAND_HEIGHT_PX + GAP_PX + BARS_HEIGHT_PX + 14;

export interface ChartInput {
  view: ChartView;
  window: TimeWindow;
  demand: readonly DemandBucket[];
  bars: readonly EnergyBar[];
  bands: readonly PriceBand[];
  widthPx: number;
  /** How far the viewer's clock is ahead of UTC, ms (ticks fall on local hours). */
  utcOffsetMs: number;
}

/** The chart's `<svg>`, sized for `widthPx`. */
export function renderChart(input: ChartInput): SVGElement {
  const widthPx = Math.max(280, Math.round(input.widthPx));
  const plotWidthPx = widthPx - MARGIN.left - MARGIN.right;
  const { fromMs, toMs } = input.window;
  const x = (timeMs: number) => MARGIN.left + (timeMs - fromMs) / (toMs - fromMs) * plotWidthPx;

  const powers = input.demand.map((bucket) => bucket.avgW);
  const topW = niceCeiling(Math.max(100, ...powers));
  const bottomW = -niceCeiling(Math.max(0, ...powers.map((p) => -p)));
  const yPower = (powerW: number) =>
    MARGIN.top + (topW - powerW) / (topW - bottomW) * DEMAND_HEIGHT_PX;

  const barsTop = MARGIN.top + DEMAND_HEIGHT_PX + GAP_PX;
  const maxWh = Math.max(1, ...input.bars.map((bar) => Math.max(bar.deliveredWh, bar.receivedWh)));
  const hasExport = input.bars.some((bar) => bar.receivedWh > 0);
  const barsZero = hasExport ? barsTop + BARS_HEIGHT_PX / 2 : barsTop + BARS_HEIGHT_PX;
  const barScale = (hasExport ? BARS_HEIGHT_PX / 2 : BARS_HEIGHT_PX) / maxWh;

  const pointCount = input.demand.length;
  const peak = input.demand.reduce<DemandBucket | null>(
    (best, bucket) => best === null || bucket.avgW > best.avgW ? bucket : best,
    null,
  );
  const description = peak === null
    ? `No demand readings in the last ${input.view.hours} hours.`
    : `Demand over the last ${input.view.hours} hours, ${pointCount} points; highest ` +
      `${formatPower(peak.avgW)} at ${formatClock(Date.parse(peak.start))}.`;

  return svg(
    "svg",
    {
      class: "chart",
      viewBox: `0 0 ${widthPx} ${HEIGHT_PX}`,
      width: widthPx,
      height: HEIGHT_PX,
      role: "img",
      "aria-label": description,
      "data-hours": input.view.hours,
      "data-points": pointCount,
      "data-bars": input.bars.length,
      "data-from": new Date(fromMs).toISOString(),
      "data-to": new Date(toMs).toISOString(),
    },
    svg("g", { class: "bands" }, ...input.bands.map((band) => bandRect(band, x, barsTop))),
    powerAxis(topW, bottomW, yPower, widthPx),
    svg("path", { class: "demand", d: demandPath(input.demand, x, yPower) }),
    svg(
      "g",
      { class: "bars" },
      ...input.bars.flatMap((bar) => barRects(bar, input.window, x, barsZero, barScale)),
    ),
    svg("line", {
      class: "zero",
      x1: MARGIN.left,
      x2: widthPx - MARGIN.right,
      y1: barsZero,
      y2: barsZero,
    }),
    svg("text", { class: "axis-label", x: 2, y: barsTop + 10 }, "kWh"),
    timeAxis(input, x),
  );
}

function bandRect(band: PriceBand, x: (timeMs: number) => number, bottomPx: number): SVGElement {
  const left = x(band.startMs);
  return svg("rect", {
    class: `band tier-${Math.min(band.level, 4)}`,
    x: left.toFixed(1),
    y: MARGIN.top,
    width: Math.max(0, x(band.endMs) - left).toFixed(1),
    height: bottomPx - MARGIN.top - GAP_PX / 2,
  });
}

function powerAxis(
  topW: number,
  bottomW: number,
  y: (powerW: number) => number,
  widthPx: number,
): SVGElement {
  const levels = [topW, topW / 2, 0, ...(bottomW < 0 ? [bottomW] : [])];
  return svg(
    "g",
    { class: "grid" },
    ...levels.flatMap((powerW) => [
      svg("line", {
        class: powerW === 0 ? "zero" : "gridline",
        x1: MARGIN.left,
        x2: widthPx - MARGIN.right,
        y1: y(powerW).toFixed(1),
        y2: y(powerW).toFixed(1),
      }),
      svg(
        "text",
        { class: "axis-label", x: MARGIN.left - 4, y: y(powerW) + 4, "text-anchor": "end" },
        axisPower(powerW),
      ),
    ]),
  );
}

/** One path; a missing bucket starts a new segment instead of drawing across the gap. */
function demandPath(
  buckets: readonly DemandBucket[],
  x: (timeMs: number) => number,
  y: (powerW: number) => number,
): string {
  return demandRuns(buckets)
    .map((run) =>
      run.map((point, i) =>
        `${i === 0 ? "M" : "L"}${x(point.timeMs).toFixed(1)},${y(point.powerW).toFixed(1)}`
      ).join("")
    )
    .join("");
}

function barRects(
  bar: EnergyBar,
  window: TimeWindow,
  x: (timeMs: number) => number,
  zeroPx: number,
  pxPerWh: number,
): SVGElement[] {
  // Bins are aligned to the clock, the window to the newest reading: clip to the plot.
  const left = x(Math.max(bar.startMs, window.fromMs)) + 0.5;
  const right = x(Math.min(bar.startMs + bar.durationMs, window.toMs)) - 0.5;
  if (right <= left) return [];
  const width = Math.max(1, right - left).toFixed(1);
  const rects = [
    svg("rect", {
      class: "bar import",
      x: left.toFixed(1),
      y: (zeroPx - bar.deliveredWh * pxPerWh).toFixed(1),
      width,
      height: (bar.deliveredWh * pxPerWh).toFixed(1),
    }),
  ];
  if (bar.receivedWh > 0) {
    rects.push(svg("rect", {
      class: "bar export",
      x: left.toFixed(1),
      y: zeroPx.toFixed(1),
      width,
      height: (bar.receivedWh * pxPerWh).toFixed(1),
    }));
  }
  return rects;
}

function timeAxis(input: ChartInput, x: (timeMs: number) => number): SVGElement {
  const plotWidthPx = x(input.window.toMs) - x(input.window.fromMs);
  // A label centred on the right edge would be cut off.
  const lastTickPx = x(input.window.toMs) + MARGIN.right - TICK_LABEL_PX / 2;
  const ticks = timeTicks(input.window, plotWidthPx, TICK_LABEL_PX, input.utcOffsetMs)
    .filter((tickMs) => x(tickMs) <= lastTickPx);
  return svg(
    "g",
    { class: "time-axis" },
    ...ticks.map((tickMs) =>
      svg(
        "text",
        { class: "axis-label", x: x(tickMs).toFixed(1), y: AXIS_TOP_PX, "text-anchor": "middle" },
        formatHour(tickMs),
      )
    ),
  );
}

/** Axis labels: `0`, `500 W`, `2.5 kW`, `−5 kW` (no trailing zeros). */
function axisPower(powerW: number): string {
  if (powerW === 0) return "0";
  const sign = powerW < 0 ? "−" : "";
  const magnitudeW = Math.abs(powerW);
  if (magnitudeW < 1000) return `${sign}${magnitudeW} W`;
  return `${sign}${Number((magnitudeW / 1000).toFixed(1))} kW`;
}
