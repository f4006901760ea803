/**
 * The "Last 48 hours" panel: the 6 h / 24 h / 48 h view buttons, the chart with its price-tier
 * legend, and today's and the last 48 hours' energy and cost. It reloads when a new interval
 * completes (an event from the live stream, not a timer) and redraws when its width changes.
 *
 * @module
 */

/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="esnext" />

import { renderChart } from "./chart.ts";
import {
  bandTiers,
  CHART_VIEWS,
  type ChartView,
  energyBars,
  priceBands,
  type TimeWindow,
  viewWindow,
} from "./chart_data.ts";
import { byId, h, replaceChildren } from "./dom.ts";
import { formatEnergy, formatMoney } from "./format.ts";
import { graphql } from "./graphql.ts";
import { HISTORY_QUERY, type HistoryResult, type Price, type UsageSummary } from "./queries.ts";

export interface HistoryPanel {
  /** Shows this meter (null: none yet); `latestMs` is its newest reading time. */
  setMeter(meterId: string | null, latestMs: number): void;
  /** A new reading or interval arrived: the window may move and the data grow. */
  reload(latestMs: number): Promise<void>;
  /** The current price, to name the tier in the legend. */
  setPrice(price: Price | null): void;
}

export function createHistoryPanel(onError: (error: unknown) => void): HistoryPanel {
  const chartBox = byId("chart");
  const legend = byId("chart-legend");
  const totals = byId("totals");
  const buttons = [...document.querySelectorAll<HTMLButtonElement>("#history .views button")];
  let view: ChartView = CHART_VIEWS[1];
  let meterId: string | null = null;
  let endMs = Date.now();
  let data: HistoryResult["meter"] | null = null;
  // The view `data` was loaded for (a redraw must not mix it with a newly chosen one).
  let dataView: ChartView = view;
  let dataRange: TimeWindow = viewWindow(view, endMs);
  let price: Price | null = null;
  let loading: Promise<void> | null = null;
  let loadAgain = false;
  // Only the newest request's answer is drawn (a view switch can overtake a reload).
  let newestRequest = 0;

  for (const button of buttons) {
    button.addEventListener("click", () => {
      view = CHART_VIEWS.find((v) => String(v.hours) === button.dataset.hours) ?? view;
      for (const other of buttons) other.setAttribute("aria-pressed", String(other === button));
      load().catch(onError);
    });
  }
  new ResizeObserver(() => draw()).observe(chartBox);

  async function load(): Promise<void> {
    if (meterId === null) return;
    const request = ++newestRequest;
    const requestedView = view;
    const range = viewWindow(requestedView, Math.max(Date.now(), endMs));
    const result = await graphql<HistoryResult>(HISTORY_QUERY, {
      id: meterId,
      from: new Date(range.fromMs).toISOString(),
      to: new Date(range.toMs).toISOString(),
      bucket: requestedView.bucket,
    });
    if (request !== newestRequest) return;
    data = result.meter;
    dataView = requestedView;
    dataRange = range;
    draw();
  }

  function draw(): void {
    if (data === null) return;
    const bands = priceBands(data.intervals);
    const chart = renderChart({
      view: dataView,
      window: dataRange,
      demand: data.demandSeries,
      bars: energyBars(data.intervals, dataView.barMs),
      bands,
      widthPx: chartBox.clientWidth || 320,
      utcOffsetMs: -new Date().getTimezoneOffset() * 60_000,
    });
    replaceChildren(chartBox, chart);
    const currency = data.intervals.find((i) => i.currency !== null)?.currency ?? null;
    replaceChildren(
      legend,
      h("li", { class: "key demand" }, "Demand"),
      h("li", { class: "key import" }, "Bought from the grid"),
      data.intervals.some((i) => i.receivedWh > 0) &&
        h("li", { class: "key export" }, "Sold to the grid"),
      ...bandTiers(bands).map(({ level, ratePerKWh }) =>
        h(
          "li",
          { class: `key tier-${Math.min(level, 4)}` },
          `${tierName(ratePerKWh, price)}${formatMoney(ratePerKWh, currency, 3)}/kWh`,
        )
      ),
    );
    replaceChildren(
      totals,
      ...summary("Today", data.today),
      ...summary("Last 48 hours", data.last48),
    );
  }

  return {
    setMeter(next, latestMs) {
      meterId = next;
      endMs = latestMs;
      load().catch(onError);
    },
    reload(latestMs) {
      endMs = Math.max(endMs, latestMs);
      // Intervals can complete in bursts (a radio catching up): one load runs at a time, and one
      // more after it covers everything that arrived meanwhile.
      if (loading !== null) {
        loadAgain = true;
        return loading;
      }
      const run = async (): Promise<void> => {
        do {
          loadAgain = false;
          await load();
        } while (loadAgain);
      };
      loading = run().finally(() => loading = null);
      return loading;
    },
    setPrice(next) {
      price = next;
      draw();
    },
  };
}

function tierName(ratePerKWh: number, price: Price | null): string {
  const isCurrent = price?.ratePerKWh !== null && price?.ratePerKWh !== undefined &&
    Math.abs(price.ratePerKWh - ratePerKWh) < 1e-4;
  return isCurrent && price?.label ? `${price.label} (now): ` : "";
}

function summary(title: string, usage: UsageSummary): HTMLElement[] {
  const parts = [`${formatEnergy(usage.deliveredWh)} bought`];
  if (usage.receivedWh > 0) parts.push(`${formatEnergy(usage.receivedWh)} sold`);
  if (usage.cost !== null) parts.push(formatMoney(usage.cost, usage.currency));
  return [h("dt", {}, title), h("dd", {}, parts.join(" · "))];
}
