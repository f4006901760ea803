/**
 * The dashboard's browser entry: asks who is signed in, loads that person's view of the gateway
 * over GraphQL, wires the panels to the live subscriptions (demand, intervals, messages, radio
 * link state) and to the owner's actions, remembers the chosen meter across reloads, and shows the
 * sign-in card when there is no session. Bundled by `build.ts`.
 *
 * What is shown follows the roles (`viewer.roles`): in a single home the one person is household
 * and administrator and sees everything. In a building a household sees its own meters' readings,
 * messages, apps and downloads, and its export switch; the administrator sees the meters' link
 * health, the radios and the households, and no readings (nothing on the page asks for them).
 *
 * @module
 */

/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="esnext" />

import { createAppsPanel } from "./apps.ts";
import { byId } from "./dom.ts";
import { graphql, GraphqlError, isSignedOut } from "./graphql.ts";
import { createHistoryPanel } from "./history.ts";
import { createHouseholdsPanel } from "./households.ts";
import { createMessagesPanel } from "./messages.ts";
import { createMetersPanel, meterLabel } from "./meters.ts";
import { createNowPanel } from "./now.ts";
import {
  APPROVE_APP,
  APPS_QUERY,
  type AppsResult,
  BUILDING_DASHBOARD_QUERY,
  CONFIRM_MESSAGE,
  DASHBOARD_QUERY,
  type DashboardResult,
  DEMAND_SUBSCRIPTION,
  type DemandEvent,
  HOUSEHOLD_DASHBOARD_QUERY,
  type IntervalEvent,
  INTERVALS_SUBSCRIPTION,
  LINK_SUBSCRIPTION,
  type LinkEvent,
  type LinkState,
  MESSAGES_SUBSCRIPTION,
  type MessagesEvent,
  type Meter,
  METER_QUERY,
  RENAME_METER,
  REVOKE_AUTHORIZATION,
  SET_EXPORT_ALLOWED,
  VIEWER_QUERY,
  type ViewerResult,
} from "./queries.ts";
import { createSharingPanel } from "./sharing.ts";
import { type StreamState, subscribe } from "./sse.ts";

/** Performance marks the browser test reads (load → first value, load → first live value). */
const FIRST_VALUE_MARK = "openseg:first-value";
const FIRST_LIVE_VALUE_MARK = "openseg:first-live-value";

/**
 * Where the chosen meter is remembered across reloads, per browser (`localStorage` is per origin,
 * so per gateway).
 */
const METER_KEY = "openseg:meter";

const TICK_MS = 1000;
/** Streams that come back within this are reloaded together. */
const RELOAD_DEBOUNCE_MS = 300;

function announce(text: string): void {
  byId("announce").textContent = text;
}

/** The meter chosen before the last reload; null when none, or storage is blocked (private mode). */
function rememberedMeter(): string | null {
  try {
    return localStorage.getItem(METER_KEY);
  } catch {
    return null;
  }
}

function rememberMeter(meterId: string): void {
  try {
    localStorage.setItem(METER_KEY, meterId);
  } catch {
    // Not remembered; the page starts on the first meter next time.
  }
}

function describeFailure(error: unknown): string {
  return error instanceof GraphqlError ? error.message : "something went wrong";
}

/** What the signed-in person sees. */
interface View {
  /** Readings, messages, apps and downloads of its meters. */
  household: boolean;
  /** Radios and their link state. */
  administrator: boolean;
  /** Several households: the administrator sees them, a household gets its export switch. */
  building: boolean;
}

function viewOf(result: ViewerResult): View {
  return {
    household: result.viewer.roles.includes("HOUSEHOLD"),
    administrator: result.viewer.roles.includes("ADMINISTRATOR"),
    building: !result.gateway.singleHome,
  };
}

/** The dashboard query of a view: each asks only for what its roles may read. */
function dashboardQuery(view: View): string {
  if (!view.household) return BUILDING_DASHBOARD_QUERY;
  return view.administrator ? DASHBOARD_QUERY : HOUSEHOLD_DASHBOARD_QUERY;
}

/** Shows the parts of the page for this view and hides the others. */
function showView(view: View, viewer: ViewerResult["viewer"]): void {
  for (const id of ["now", "history", "messages", "apps", "download"]) {
    byId(id).hidden = !view.household;
  }
  byId("radios-title").hidden = !view.administrator;
  byId("radio-list").hidden = !view.administrator;
  byId("households").hidden = !(view.building && view.administrator);
  if (view.building) {
    const who = byId("who");
    who.textContent = viewer.household?.name ?? "Administrator";
    who.hidden = false;
  }
  const household = viewer.household;
  if (household !== null) {
    byId<HTMLAnchorElement>("download-link").href = `/espi/1_1/resource/Batch/RetailCustomer/${
      encodeURIComponent(household.id)
    }/UsagePoint`;
  }
}

function showSignedOut(): void {
  byId("dashboard").hidden = true;
  byId("logout").hidden = true;
  byId("signed-out").hidden = false;
  byId("connection").textContent = "Signed out";
  byId("connection").dataset.state = "off";
}

async function start(): Promise<void> {
  let viewer: ViewerResult;
  try {
    viewer = await graphql<ViewerResult>(VIEWER_QUERY);
  } catch (error) {
    if (isSignedOut(error)) return showSignedOut();
    byId("connection").textContent = "Gateway unreachable";
    throw error;
  }
  const view = viewOf(viewer);
  const query = dashboardQuery(view);
  // Asked first; the live streams open while it runs.
  const firstLoad = graphql<DashboardResult>(query);
  const streamStates = new Map<string, StreamState>();
  const linkStates = new Map<string, LinkState>();
  const stops: (() => void)[] = [];
  let meters: Meter[] = [];
  // One no longer there (a stale id) gives way to the first meter in `showMeters()`.
  let selectedId: string | null = rememberedMeter();
  let loaded = false;
  let firstLive = true;
  // Live events that arrive before the first load are applied right after it.
  const early: (() => void)[] = [];

  function fail(error: unknown): void {
    if (isSignedOut(error)) {
      for (const stop of stops) stop();
      showSignedOut();
      return;
    }
    announce(`Failed: ${describeFailure(error)}`);
  }

  const now = createNowPanel();
  const history = createHistoryPanel(fail);
  const metersPanel = createMetersPanel(async (meterId, name) => {
    try {
      await graphql(RENAME_METER, { id: meterId, name: name === "" ? null : name });
      announce("Name saved.");
      await reloadDashboard();
    } catch (error) {
      fail(error);
      throw error;
    }
  });
  const messages = createMessagesPanel(async (meterId, messageId) => {
    try {
      await graphql(CONFIRM_MESSAGE, { meterId, messageId });
      announce("Confirmation sent to the meter.");
    } catch (error) {
      fail(error);
      throw error;
    }
  });
  const households = createHouseholdsPanel();
  const sharing = createSharingPanel(async (allowed) => {
    try {
      await graphql(SET_EXPORT_ALLOWED, { allowed });
      announce(
        allowed
          ? "Your meters' data is now shared with the building's exports."
          : "Your meters' data is no longer shared with the building's exports.",
      );
    } catch (error) {
      fail(error);
      throw error;
    }
  });
  const apps = createAppsPanel({
    async revoke(authorization) {
      try {
        await graphql(REVOKE_AUTHORIZATION, { id: authorization.id });
        announce(`${authorization.app?.name ?? "The app"} can no longer read your data.`);
        await reloadApps();
      } catch (error) {
        fail(error);
        throw error;
      }
    },
    async approve(app) {
      try {
        await graphql(APPROVE_APP, { appId: app.id, meterIds: meters.map((m) => m.id) });
        announce(`${app.name} may now read your data.`);
        await reloadApps();
      } catch (error) {
        fail(error);
        throw error;
      }
    },
  });

  const select = byId<HTMLSelectElement>("meter-select");
  select.addEventListener("change", () => {
    selectedId = select.value;
    rememberMeter(selectedId);
    showMeters();
  });

  function selected(): Meter | null {
    return meters.find((meter) => meter.id === selectedId) ?? meters[0] ?? null;
  }

  function showMeters(): void {
    byId("meter-pick").hidden = meters.length < 2;
    select.replaceChildren(...meters.map((meter) => new Option(meterLabel(meter), meter.id)));
    const meter = selected();
    selectedId = meter?.id ?? null;
    if (meter !== null) select.value = meter.id;
    if (!view.household) return;
    now.showDemand(meter?.demand ?? null);
    now.showPrice(meter?.price ?? null);
    history.setPrice(meter?.price ?? null);
    history.setMeter(selectedId, meter?.demand ? Date.parse(meter.demand.at) : Date.now());
    messages.show(new Map(meters.map((m) => [m.id, m.messages])));
  }

  function showTrouble(): void {
    const reconnecting = [...streamStates.values()].includes("reconnecting");
    const linkDown = [...linkStates.values()].some((state) => state !== "CONNECTED");
    const connection = byId("connection");
    connection.textContent = reconnecting ? "Reconnecting…" : linkDown ? "Radio link down" : "Live";
    connection.dataset.state = reconnecting || linkDown ? "trouble" : "live";
    now.setTrouble(
      reconnecting
        ? "the live connection to the gateway dropped; reconnecting."
        : linkDown
        ? "the radio link to the meter is down."
        : null,
    );
  }

  /** `askedAtMs`: when the request that read `dashboard` was sent. */
  function showDashboard(dashboard: DashboardResult, askedAtMs: number): void {
    // The administrator of a building reads no readings: its meters have none to show.
    meters = dashboard.meters.map((meter) => ({
      demand: null,
      price: null,
      messages: [],
      ...meter,
    }));
    const radios = dashboard.gateway?.radios ?? [];
    for (const radio of radios) linkStates.set(radio.port, radio.linkState);
    metersPanel.show(meters, radios);
    showMeters();
    showTrouble();
    if (dashboard.households !== undefined) households.show(dashboard.households, meters);
    const household = dashboard.viewer?.household;
    if (view.building && household) sharing.show(household.exportAllowed, askedAtMs);
  }

  async function reloadDashboard(): Promise<void> {
    const askedAtMs = performance.now();
    showDashboard(await graphql<DashboardResult>(query), askedAtMs);
  }

  async function reloadApps(): Promise<void> {
    if (!view.household) return;
    const result = await graphql<AppsResult>(APPS_QUERY);
    apps.show(result.authorizations, result.apps);
  }

  let reloadTimer: ReturnType<typeof setTimeout> | undefined;
  function reloadSoon(): void {
    if (!loaded) return;
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(() => {
      reloadDashboard().then(reloadApps).catch(fail);
    }, RELOAD_DEBOUNCE_MS);
  }

  function stream<T>(name: string, query: string, onData: (data: T) => void): void {
    let opened = false;
    stops.push(subscribe<T>(query, {
      onData(data) {
        if (loaded) onData(data);
        else early.push(() => onData(data));
      },
      onState(state) {
        streamStates.set(name, state);
        showTrouble();
        // A closed stream may mean the session ended: the reload finds out.
        if (state === "reconnecting") reloadSoon();
      },
      onOpen() {
        // What changed while the stream was down is only in a fresh load.
        if (opened) reloadSoon();
        opened = true;
      },
    }));
  }

  // Each stream only for the role that may read it: a refused one would only fail.
  if (view.household) openReadingStreams();
  if (view.administrator) {
    stream<LinkEvent>("link", LINK_SUBSCRIPTION, ({ linkState: update }) => {
      linkStates.set(update.port, update.state);
      metersPanel.setLink(update.port, update.state);
      showTrouble();
    });
  }

  function openReadingStreams(): void {
    stream<DemandEvent>("demand", DEMAND_SUBSCRIPTION, ({ demand: update }) => {
      const meter = meters.find((m) => m.id === update.meterId);
      if (meter === undefined) return reloadSoon();
      meter.demand = update.demand;
      metersPanel.seen(update.meterId, update.demand.at);
      if (update.meterId !== selectedId) return;
      now.showDemand(update.demand);
      if (firstLive) {
        performance.mark(FIRST_LIVE_VALUE_MARK);
        firstLive = false;
      }
    });
    stream<IntervalEvent>("intervals", INTERVALS_SUBSCRIPTION, ({ intervals: update }) => {
      // Prices change on the meter's schedule; a completed interval is the moment to catch up, for
      // every meter, so one chosen later shows its current price.
      graphql<{ meter: Meter }>(METER_QUERY, { id: update.meterId }).then(({ meter: fresh }) => {
        const meter = meters.find((m) => m.id === fresh.id);
        if (meter !== undefined) meter.price = fresh.price;
        // The owner may have chosen another meter meanwhile.
        if (fresh.id !== selectedId) return;
        now.showPrice(fresh.price);
        history.setPrice(fresh.price);
      }, fail);
      if (update.meterId !== selectedId) return;
      const endMs = Date.parse(update.interval.start) + update.interval.durationS * 1000;
      history.reload(endMs).catch(fail);
    });
    stream<MessagesEvent>("messages", MESSAGES_SUBSCRIPTION, ({ messages: update }) => {
      messages.update(update.meterId, update.message);
    });
  }

  let dashboard: DashboardResult;
  try {
    dashboard = await firstLoad;
  } catch (error) {
    for (const stop of stops) stop();
    if (isSignedOut(error)) return showSignedOut();
    byId("connection").textContent = "Gateway unreachable";
    throw error;
  }
  showView(view, viewer.viewer);
  byId("dashboard").hidden = false;
  byId("logout").hidden = false;
  byId("version").textContent = viewer.gateway.version;
  // The switch is hidden until this first load shows it: nothing can have changed before.
  showDashboard(dashboard, 0);
  if (selected()?.demand) performance.mark(FIRST_VALUE_MARK);
  loaded = true;
  for (const apply of early.splice(0)) apply();
  reloadApps().catch(fail);

  setInterval(() => {
    now.tick();
    metersPanel.tick();
  }, TICK_MS);
}

start().catch((error) => console.error("dashboard:", error));
