/**
 * Gap repair, radio side: after an outage (gateway stopped, radio unplugged, meter out of reach)
 * the store holds `estimated` intervals across the gap, while the meter itself still holds the
 * real ones. This asks the meter for them with `get_profile_data` and hands what it answers to the
 * store, which replaces the estimated rows.
 *
 * Per link: one request in flight, a pause of `pauseMs` between requests, at most 12 periods per
 * request (manual p.29), windows oldest first. A pass starts on each of the first summations
 * after the link came back (those readings close the gap in the store) until one finds something
 * to ask, and then at most every `recheckMs`, so a gap without any link event (a silent meter) is
 * found too. What the meter
 * answers is mapped back by its `EndTime` (newest first) and `ProfileIntervalPeriod`; Status 1–5,
 * `Unknown command`, silence and replies that contradict the request are handled as the protocol
 * says, each counted, and logged once per meter and kind. A meter that does not support the
 * command is not asked again: its intervals stay estimated and one warning says why.
 *
 * The store is reached only through callbacks (`estimated`, `store`), so this module knows the
 * radio protocol and nothing about SQLite.
 *
 * @module
 */

import { Sleeps } from "./sleeps.ts";
import type { Logger } from "../log.ts";
import type { RadioCommand } from "./commands.ts";
import {
  type LinkState,
  type MeterEvent,
  PROFILE_STATUS,
  type ProfileDataEvent,
} from "./events.ts";
import { PROFILE_PERIODS } from "./plausible_range.ts";

/** A stored interval marked `estimated` (the store's answer to "what is missing?"). */
export interface EstimatedInterval {
  startMs: number;
  durationS: number;
  deliveredWh: number;
  receivedWh: number;
}

/** One interval as the meter reported it, ready to replace an estimated one. */
export interface MeterInterval {
  startMs: number;
  durationS: number;
  deliveredWh: number;
  receivedWh: number;
}

/** What a gap repair counts (persisted by the store as warning counters). */
export type GapRepairProblem =
  /** The meter does not support `get_profile_data` (Status 1/2, `Unknown command`, silence). */
  | "profileUnsupported"
  /** The meter has no `Received` channel; intervals with export stay estimated. */
  | "profileNoReceived"
  /** The meter's interval length differs from the gateway's; nothing can be matched. */
  | "profileIntervalMismatch"
  /** Status 3 or 5: the meter holds nothing for the window asked. */
  | "profileUnavailable"
  /** A reply that contradicts the request (times, counts) or an undefined Status. */
  | "profileRejected"
  /** No reply within `replyTimeoutMs`. */
  | "profileTimeout";

export interface GapRepairOptions {
  /** Port name, for log lines. */
  port: string;
  /** The store's interval length in seconds; the meter's must be the same. */
  intervalS: number;
  /** Writes a command to the radio (the supervisor's queue); rejects while disconnected. */
  send: (command: RadioCommand) => Promise<void>;
  /** Complete estimated intervals of `meter` starting at or after `fromMs`, oldest first. */
  estimated: (meter: string, fromMs: number, limit: number) => EstimatedInterval[];
  /** Hands the meter's own intervals to the store. */
  store: (meter: string, readings: MeterInterval[]) => void;
  /** Counts one problem. */
  count: (meter: string, kind: GapRepairProblem) => void;
  logger?: Pick<Logger, "info" | "warn">;
  /** Pause between two requests on this link (default 1000: one EMU-2 integration spaces 1 s). */
  pauseMs?: number;
  /** Longest wait for a reply (default 5000; the EMU-2 may take up to 4 s). */
  replyTimeoutMs?: number;
  /** Wait after the triggering summation, so the store has derived the gap (default 1000). */
  settleMs?: number;
  /** Longest time between two passes while summations arrive (default 5 min). */
  recheckMs?: number;
  now?: () => number;
}

/** Counters of one repairer, for status and tests. */
export interface GapRepairStats {
  requests: number;
  /** Intervals handed to the store. */
  repaired: number;
  passes: number;
}

/** Periods per request: the protocol's maximum. */
const MAX_PERIODS = PROFILE_PERIODS.max;
/** Unanswered requests in a row after which a meter counts as not supporting the command. */
const MAX_SILENT_REQUESTS = 3;
const UNKNOWN_COMMAND = /unknown command/i;
/** See `GapRepairer.#armed`. */
const ARMED_SUMMATIONS = 3;

/** A reply, or why none came (`gone`: the link dropped or the repairer stopped). */
type Reply = ProfileDataEvent | "unknownCommand" | "timeout" | "gone";

/** What one request taught about a window. */
type Outcome =
  /** Wh by interval start (null: the meter marked it invalid or a value was refused). */
  | { kind: "values"; byStartMs: Map<number, number | null> }
  /** Nothing usable for this window; carry on with the next. */
  | { kind: "skip" }
  /** Ask the same window again (fewer periods). */
  | { kind: "retry" }
  /** End the pass (link gone, meter silent or unsupported). */
  | { kind: "stop" };

interface Window {
  slots: EstimatedInterval[];
  fromMs: number;
  endMs: number;
}

interface MeterState {
  /** Estimated intervals before this were asked for already. */
  askedThroughMs: number;
  /** Why the meter is not asked any more, once known. */
  unsupported: string | null;
  noReceived: boolean;
  maxPeriods: number;
  silentRequests: number;
  /** Problem kinds already logged for this meter. */
  logged: Set<GapRepairProblem>;
}

/** Repairs the gaps of the meters on one link; feed it the link's events and states. */
export class GapRepairer {
  readonly #options: Required<Omit<GapRepairOptions, "logger">> & {
    logger?: GapRepairOptions["logger"];
  };
  readonly #meters = new Map<string, MeterState>();
  readonly #due = new Set<string>();
  readonly #sleeps = new Sleeps();
  readonly stats: GapRepairStats = { requests: 0, repaired: 0, passes: 0 };
  /**
   * Summations that still start a pass at once after the link came back. More than one: the
   * reading that closes a long gap may be held by the store until the next one agrees
   * (`store/time_leap.ts`), so the first pass can find nothing yet.
   */
  #armed = 0;
  #running: Promise<void> | null = null;
  #stopped = false;
  #lastPassMs = -Infinity;
  #pending: { meter: string; resolve: (reply: Reply) => void } | null = null;
  /** An `Unknown command` warning came while a request was pending (see `observe`). */
  #unknownCommand = false;
  #lastRequestMs = -Infinity;

  constructor(options: GapRepairOptions) {
    this.#options = {
      pauseMs: 1000,
      replyTimeoutMs: 5000,
      settleMs: 1000,
      recheckMs: 300_000,
      now: Date.now,
      ...options,
    };
  }

  /** The link's state: a (re)connected link arms a pass on the next summation. */
  linkState(state: LinkState): void {
    if (state === "connected") this.#armed = ARMED_SUMMATIONS;
    else if (state === "disconnected" || state === "closed") this.#answer("gone");
  }

  /** Every event the link delivered. */
  observe(event: MeterEvent): void {
    switch (event.kind) {
      case "profile":
        if (this.#pending && (event.meter === null || event.meter === this.#pending.meter)) {
          this.#answer(event);
        }
        break;
      case "deviceWarning":
        // Not proof on its own: warnings carry no request, and another command may have caused
        // it. It decides only if no ProfileData follows before the timeout.
        if (this.#pending && UNKNOWN_COMMAND.test(event.text)) this.#unknownCommand = true;
        break;
      case "connection":
        // The meter rejoined after the radio lost it: its gap is closed by the next summation.
        if (event.connected) this.#armed = ARMED_SUMMATIONS;
        break;
      case "summation":
        if (event.meter !== null) this.#onSummation(event.meter);
        break;
    }
  }

  /** Ends the current pass and every timer; resolves once nothing runs. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#answer("gone");
    this.#sleeps.wakeAll();
    await this.#running;
  }

  #onSummation(meter: string): void {
    const sinceLastMs = this.#options.now() - this.#lastPassMs;
    if (this.#stopped || (this.#armed === 0 && sinceLastMs < this.#options.recheckMs)) return;
    this.#armed = Math.max(0, this.#armed - 1);
    this.#lastPassMs = this.#options.now();
    this.#due.add(meter);
    this.#running ??= this.#drain().finally(() => (this.#running = null));
  }

  async #drain(): Promise<void> {
    await this.#sleep(this.#options.settleMs);
    while (!this.#stopped && this.#due.size > 0) {
      const meter = this.#due.values().next().value!;
      this.#due.delete(meter);
      await this.#pass(meter, this.#state(meter));
    }
  }

  #state(meter: string): MeterState {
    let state = this.#meters.get(meter);
    if (state === undefined) {
      state = {
        askedThroughMs: -Infinity,
        unsupported: null,
        noReceived: false,
        maxPeriods: MAX_PERIODS,
        silentRequests: 0,
        logged: new Set(),
      };
      this.#meters.set(meter, state);
    }
    return state;
  }

  /** Asks for every estimated interval of `meter` not asked for yet, window by window. */
  async #pass(meter: string, state: MeterState): Promise<void> {
    if (state.unsupported !== null) return;
    this.stats.passes++;
    const startedMs = this.#options.now();
    let repaired = 0;
    let firstMs = Infinity;
    let lastMs = -Infinity;
    while (!this.#stopped && state.unsupported === null) {
      const window = this.#nextWindow(meter, state);
      if (window === null) break;
      this.#armed = 0;
      const delivered = await this.#ask(meter, state, window, "Delivered");
      if (delivered.kind === "stop") break;
      if (delivered.kind === "retry") continue;
      state.askedThroughMs = window.endMs;
      if (delivered.kind === "skip") continue;
      // A register that did not move across the window needs no Received channel: its intervals
      // exported exactly 0 Wh (the total is exact, and it cannot be split into negatives).
      const needsReceived = window.slots.some((slot) => slot.receivedWh !== 0);
      let received: Map<number, number | null> | null = null;
      if (needsReceived && !state.noReceived) {
        const outcome = await this.#ask(meter, state, window, "Received");
        if (outcome.kind === "stop") break;
        if (outcome.kind === "values") received = outcome.byStartMs;
      }
      const readings = this.#readings(window, delivered.byStartMs, received);
      if (readings.length === 0) continue;
      this.#options.store(meter, readings);
      repaired += readings.length;
      this.stats.repaired += readings.length;
      firstMs = Math.min(firstMs, readings[0].startMs);
      lastMs = Math.max(lastMs, readings.at(-1)!.startMs);
    }
    if (repaired > 0) {
      const seconds = ((this.#options.now() - startedMs) / 1000).toFixed(1);
      this.#options.logger?.info(
        `${this.#options.port}: gap repair: ${repaired} estimated intervals of meter ${meter} ` +
          `replaced by the meter's own (${iso(firstMs)} to ${iso(lastMs)}) in ${seconds} s`,
        { port: this.#options.port, meter, repaired },
      );
    }
  }

  /** The oldest estimated intervals not asked for yet that one request covers. */
  #nextWindow(meter: string, state: MeterState): Window | null {
    const intervalMs = this.#options.intervalS * 1000;
    const candidates = this.#options.estimated(meter, state.askedThroughMs, state.maxPeriods);
    if (candidates.length === 0) return null;
    const fromMs = candidates[0].startMs;
    const slots = candidates.filter((slot) =>
      slot.startMs < fromMs + state.maxPeriods * intervalMs
    );
    return { slots, fromMs, endMs: slots.at(-1)!.startMs + intervalMs };
  }

  /** One request for `window` on `channel`, paced, and what its reply means. */
  async #ask(
    meter: string,
    state: MeterState,
    window: Window,
    channel: "Delivered" | "Received",
  ): Promise<Outcome> {
    const intervalMs = this.#options.intervalS * 1000;
    const periods = Math.round((window.endMs - window.fromMs) / intervalMs);
    const reply = await this.#request(meter, {
      name: "getProfileData",
      meter,
      numberOfPeriods: periods,
      endTimeMs: window.endMs,
      channel,
    });
    if (reply === "gone") return { kind: "stop" };
    if (reply === "timeout") {
      this.#problem(meter, state, "profileTimeout", "no reply to get_profile_data");
      if (++state.silentRequests >= MAX_SILENT_REQUESTS) {
        this.#unsupported(meter, state, `no reply to ${MAX_SILENT_REQUESTS} requests in a row`);
      }
      return { kind: "stop" };
    }
    state.silentRequests = 0;
    if (reply === "unknownCommand") {
      this.#unsupported(meter, state, 'the radio answers "Unknown command"');
      return { kind: "stop" };
    }
    return this.#interpret(meter, state, window, channel, periods, reply);
  }

  #interpret(
    meter: string,
    state: MeterState,
    window: Window,
    channel: "Delivered" | "Received",
    periods: number,
    reply: ProfileDataEvent,
  ): Outcome {
    const span = `${iso(window.fromMs)} to ${iso(window.endMs)}`;
    switch (reply.status) {
      case PROFILE_STATUS.ok:
        break;
      case PROFILE_STATUS.undefinedChannel:
      case PROFILE_STATUS.channelNotSupported: {
        const why = `Status ${reply.status} (${
          reply.status === PROFILE_STATUS.undefinedChannel
            ? "undefined channel"
            : "channel not supported"
        }) for the ${channel} channel`;
        if (channel === "Delivered") {
          this.#unsupported(meter, state, why);
          return { kind: "stop" };
        }
        state.noReceived = true;
        this.#problem(
          meter,
          state,
          "profileNoReceived",
          `${why}; intervals with export stay estimated`,
        );
        return { kind: "skip" };
      }
      case PROFILE_STATUS.tooManyPeriods:
        if (periods > 1) {
          state.maxPeriods = Math.max(1, Math.floor(periods / 2));
          this.#problem(
            meter,
            state,
            "profileRejected",
            `Status 4 (too many periods) for ${periods}; asking for ${state.maxPeriods} at a time`,
          );
          return { kind: "retry" };
        }
        this.#unsupported(meter, state, "Status 4 (too many periods) even for one period");
        return { kind: "stop" };
      case PROFILE_STATUS.invalidEndTime:
      case PROFILE_STATUS.noIntervals:
        this.#problem(
          meter,
          state,
          "profileUnavailable",
          `Status ${reply.status} (${
            reply.status === PROFILE_STATUS.noIntervals
              ? "no intervals available"
              : "invalid end time"
          }) for ${span}; those intervals stay estimated`,
        );
        return { kind: "skip" };
      default:
        this.#problem(
          meter,
          state,
          "profileRejected",
          `undefined Status ${reply.status} for ${span}`,
        );
        return { kind: "skip" };
    }
    return this.#values(meter, state, window, periods, reply, span);
  }

  /** The intervals of a Status 0 reply by start time, once it is shown to fit the request. */
  #values(
    meter: string,
    state: MeterState,
    window: Window,
    periods: number,
    reply: ProfileDataEvent,
    span: string,
  ): Outcome {
    const intervalMs = this.#options.intervalS * 1000;
    if (reply.intervalS !== null && reply.intervalS !== this.#options.intervalS) {
      this.#unsupported(
        meter,
        state,
        `the meter keeps ${reply.intervalS / 60}-minute intervals, the gateway ` +
          `${this.#options.intervalS / 60}-minute ones (match --interval-minutes to repair gaps)`,
        "profileIntervalMismatch",
      );
      return { kind: "stop" };
    }
    const endMs = reply.endTimeMs;
    const problem = reply.intervalS === null
      ? "no usable ProfileIntervalPeriod"
      : endMs === null || endMs % intervalMs !== 0 || endMs > window.endMs
      ? `EndTime ${endMs === null ? "unset" : iso(endMs)} does not fit the request`
      : reply.intervals.length > periods
      ? `${reply.intervals.length} periods for ${periods} asked`
      : reply.intervals.length === 0
      ? "no usable IntervalData"
      : null;
    if (problem !== null) {
      this.#problem(meter, state, "profileRejected", `reply for ${span} refused: ${problem}`);
      return { kind: "skip" };
    }
    const byStartMs = new Map<number, number | null>();
    reply.intervalsWh.forEach((wh, k) => byStartMs.set(endMs! - (k + 1) * intervalMs, wh));
    return { kind: "values", byStartMs };
  }

  /** Estimated slots of `window` the replies give both channels of. */
  #readings(
    window: Window,
    delivered: Map<number, number | null>,
    received: Map<number, number | null> | null,
  ): MeterInterval[] {
    const readings: MeterInterval[] = [];
    for (const slot of window.slots) {
      const deliveredWh = delivered.get(slot.startMs);
      const receivedWh = slot.receivedWh === 0 ? 0 : received?.get(slot.startMs);
      if (deliveredWh == null || receivedWh == null) continue;
      readings.push({ startMs: slot.startMs, durationS: slot.durationS, deliveredWh, receivedWh });
    }
    return readings;
  }

  /** Sends one command after the pause and waits for its reply. */
  async #request(meter: string, command: RadioCommand): Promise<Reply> {
    const waitMs = this.#lastRequestMs + this.#options.pauseMs - this.#options.now();
    if (waitMs > 0) await this.#sleep(waitMs);
    if (this.#stopped) return "gone";
    const reply = new Promise<Reply>((resolve) => (this.#pending = { meter, resolve }));
    this.#unknownCommand = false;
    this.#lastRequestMs = this.#options.now();
    this.stats.requests++;
    try {
      await this.#options.send(command);
    } catch {
      // The link went away; the next (re)connect arms another pass.
      this.#pending = null;
      return "gone";
    }
    const timer = setTimeout(
      () => this.#answer(this.#unknownCommand ? "unknownCommand" : "timeout"),
      this.#options.replyTimeoutMs,
    );
    try {
      const answer = await reply;
      return this.#stopped ? "gone" : answer;
    } finally {
      clearTimeout(timer);
      // Paced from the reply, so a slow meter is not asked again at once.
      this.#lastRequestMs = this.#options.now();
    }
  }

  #answer(reply: Reply): void {
    const pending = this.#pending;
    this.#pending = null;
    pending?.resolve(reply);
  }

  #unsupported(
    meter: string,
    state: MeterState,
    why: string,
    kind: GapRepairProblem = "profileUnsupported",
  ): void {
    state.unsupported = why;
    this.#problem(
      meter,
      state,
      kind,
      `meter ${meter} cannot repair gaps: ${why}; intervals after outages stay estimated`,
    );
  }

  /** Counts every occurrence; logs the first of each kind per meter. */
  #problem(meter: string, state: MeterState, kind: GapRepairProblem, message: string): void {
    this.#options.count(meter, kind);
    if (state.logged.has(kind)) return;
    state.logged.add(kind);
    const line = message.startsWith("meter ") ? message : `meter ${meter}: ${message}`;
    this.#options.logger?.warn(`${this.#options.port}: gap repair: ${line}`, {
      port: this.#options.port,
      meter,
      kind,
    });
  }

  /** Sleeps without spinning; `stop()` cuts it short. */
  #sleep(ms: number): Promise<void> {
    return this.#stopped ? Promise.resolve() : this.#sleeps.sleep(ms);
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
