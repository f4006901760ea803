/**
 * The simulated meter radio: a RAVEn/EMU-2 that speaks the serial XML protocol on a byte
 * transport (normally a pseudo-terminal master), so the gateway reads it exactly like a USB stick.
 *
 * It announces a join sequence, pushes demand/summation/price/time/message fragments on its
 * schedules from a `Household` model running `speed`× faster than wall time, and answers the
 * commands it reads. Sim time = start + wall elapsed × speed; pushes that fall due while the loop
 * was busy are all sent (never skipped), at most `maxBurstFragments` per turn so commands still get
 * answered at very high speeds; the device clock then lags until the backlog is drained.
 *
 * This file is the device loop and its command handling; the clock (`clock.ts`), the schedules
 * (`schedules.ts`), the fragments (`fragment_writer.ts`) and profile data (`profile_answer.ts`)
 * are their own modules.
 *
 * @module
 */

import type { ByteTransport } from "../radio/transport.ts";
import { type RadioCommand, SCHEDULE_EVENTS, type ScheduleEventName } from "../radio/commands.ts";
import { FragmentSplitter } from "../radio/raven/framing.ts";
import { parseCommand } from "../radio/raven/commands.ts";
import { SimClock } from "./clock.ts";
import { encodeWindows1252, type LineEnding } from "./format.ts";
import {
  type ClosedPeriod,
  FragmentWriter,
  type UsagePeriod,
  type UserPrice,
} from "./fragment_writer.ts";
import type { Household, UtilityMessage } from "./household.ts";
import { createRandom } from "./household.ts";
import { profileAnswer, type ProfileSupport } from "./profile_answer.ts";
import { PushSchedules } from "./schedules.ts";

export interface SimulatedMeterOptions {
  transport: ByteTransport;
  /** Radio MAC (`0x` + 16 hex digits). */
  deviceMac: string;
  /** Meter MAC (`0x` + 16 hex digits). */
  meterMac: string;
  household: Household;
  /** Sim time runs this many times faster than wall time (default 1). */
  speed?: number;
  /** Sim time at start-up, Unix ms (default now); truncated to a whole second. */
  startTimeMs?: number;
  /**
   * Start this far before `startTimeMs` and replay the gap at `catchUpSpeed` until the clock meets
   * the normal one, so a fresh gateway shows a full history at once (default 0).
   */
  backfillMs?: number;
  /** Speed of the backfill phase (default 20 000; never slower than `speed`). */
  catchUpSpeed?: number;
  /** Demand push period (default 8 s, like a real meter). */
  demandEverySimS?: number;
  /** Summation push period (default 60 s). */
  summationEverySimS?: number;
  /** Price push period (default 120 s; the EMU-2 asks the meter every 2 min). */
  priceEverySimS?: number;
  /** Time push period (default 900 s). */
  timeEverySimS?: number;
  /** Message push period while a message is active (default 120 s). */
  messageEverySimS?: number;
  /** Chance per fragment of junk bytes (NUL runs, stray line breaks) before it (default 0). */
  junkProbability?: number;
  /** Default CR LF, as the RAVEn sends. */
  lineEnding?: LineEnding;
  /** Default `emu2` (hex16 summations, PriceCluster with StartTime/Duration). */
  model?: "raven" | "emu2";
  /** Most scheduled pushes per loop turn, so commands are answered at any speed (default 200). */
  maxBurstFragments?: number;
  /** How the meter answers `get_profile_data` (default `full`); see `profile_answer.ts`. */
  profileSupport?: ProfileSupport;
}

/** A running simulated meter. */
export interface SimulatedMeter {
  /** Every command the device parsed, in arrival order. */
  readonly receivedCommands: RadioCommand[];
  /** Fragments written so far (pushes and replies). */
  readonly fragmentsSent: number;
  /** The device clock: sim time up to which it has pushed data (Unix ms). */
  readonly simTimeMs: number;
  /** Resolves when the device stopped (after `stop()` or when the gateway side hung up). */
  readonly done: Promise<void>;
  /**
   * Loses (false) or regains (true) the link to the gateway, as an unplugged stick or a meter out
   * of radio range: while down the household keeps running and its intervals keep being recorded,
   * but every push and reply is lost. Back up, the device carries on with current data.
   */
  setLinkUp(up: boolean): void;
  /**
   * Stops the device; it does not close the transport. A write blocked on a full pty buffer only
   * ends when the transport closes, so close the transport first when nobody reads any more.
   */
  stop(): Promise<void>;
}

const READ_WAIT_MAX_MS = 100;

const JOIN_SEQUENCE = [
  "Initializing",
  "Network Discovery",
  "Joining",
  "Join: Success",
  "Authenticating",
  "Authenticating: Success",
  "Connected",
] as const;

type CachedKind = "demand" | "summation" | "price";

/** Starts the device loop on `options.transport` and returns its handle at once. */
export function startSimulatedMeter(options: SimulatedMeterOptions): SimulatedMeter {
  const { transport, household } = options;
  const deviceMac = options.deviceMac.toLowerCase();
  const meterMac = options.meterMac.toLowerCase();
  const speed = options.speed ?? 1;
  const junkProbability = options.junkProbability ?? 0;
  const maxBurst = options.maxBurstFragments ?? 200;
  const clock = new SimClock({
    speed,
    presentMs: options.startTimeMs ?? Date.now(),
    backfillMs: options.backfillMs ?? 0,
    catchUpSpeed: options.catchUpSpeed ?? 20_000,
  });
  const startMs = clock.startMs;
  const random = createRandom(household.seed ^ 0x51ed);
  const writer = new FragmentWriter({
    deviceMac,
    meterMac,
    household,
    lineEnding: options.lineEnding ?? "\r\n",
    model: options.model ?? "emu2",
  });
  const schedules = new PushSchedules({
    time: options.timeEverySimS ?? 900,
    price: options.priceEverySimS ?? 120,
    demand: options.demandEverySimS ?? 8,
    summation: options.summationEverySimS ?? 60,
    message: options.messageEverySimS ?? 120,
  }, startMs);

  let clockMs = startMs;
  let userPrice: UserPrice | null = null;
  const confirmedMessageIds = new Set<number>();
  let lastMessage: UtilityMessage | null = null;
  /** Last pushed fragment per kind, answered for `Refresh N` (the radio's cache). */
  const cache: Partial<Record<CachedKind, string>> = {};
  let period: UsagePeriod = { startMs, startDeliveredWh: 0 };
  let lastPeriod: ClosedPeriod | null = null;
  const receivedCommands: RadioCommand[] = [];
  let fragmentsSent = 0;
  let stopping = false;
  let linkUp = true;
  const profileSupport = options.profileSupport ?? "full";

  const deliveredWhAt = (timeMs: number) =>
    Math.floor(household.advanceTo(timeMs).summationDeliveredWh);

  /** The active message, else the last one seen. */
  function messageFragment(timeMs: number): string {
    const active = household.messageAt(timeMs);
    if (active) lastMessage = active;
    const confirmed = lastMessage !== null && confirmedMessageIds.has(lastMessage.id);
    return writer.message(lastMessage, active !== null, confirmed);
  }

  const build: Record<CachedKind, (timeMs: number) => string> = {
    demand: (timeMs) => writer.demand(timeMs),
    summation: (timeMs) => writer.summation(timeMs),
    price: (timeMs) => writer.price(timeMs, userPrice),
  };
  const fresh = (kind: CachedKind) => (cache[kind] = build[kind](clockMs));
  const cached = (kind: CachedKind) => cache[kind] ?? fresh(kind);
  const current = (kind: CachedKind, refresh: boolean | undefined) =>
    refresh ? fresh(kind) : cached(kind);

  /** The reply fragments for one command (none for set-style commands). */
  function answer(command: RadioCommand): string[] {
    switch (command.name) {
      case "initialize":
        return [];
      case "restart":
        return JOIN_SEQUENCE.map((status) => writer.connectionStatus(status));
      case "getConnectionStatus":
        return [writer.connectionStatus("Connected")];
      case "getDeviceInfo":
        return [writer.deviceInfo()];
      case "getNetworkInfo":
        return [writer.networkInfo()];
      case "getMeterList":
        return [writer.meterList()];
      case "getMeterInfo":
        return [writer.meterInfo()];
      case "getSchedule":
        return (command.event ? [command.event] : SCHEDULE_EVENTS).map((event) =>
          writer.scheduleInfo(event, schedules.get(event))
        );
      case "setSchedule":
        schedules.set(command.event, command.enabled, command.frequencyS, clockMs);
        return [];
      case "getTime":
        return [writer.time(clockMs)];
      case "getMessage":
        return [messageFragment(clockMs)];
      case "confirmMessage":
        confirmedMessageIds.add(parseInt(command.messageId, 16) >>> 0);
        return [];
      case "getCurrentPrice":
        return [current("price", command.refresh)];
      case "setCurrentPrice":
        userPrice = command.price === 0 ? null : command;
        return [];
      case "getInstantaneousDemand":
        return [current("demand", command.refresh)];
      case "getCurrentSummationDelivered":
        return [current("summation", command.refresh)];
      case "getCurrentPeriodUsage":
        return [writer.currentPeriodUsage(clockMs, period)];
      case "getLastPeriodUsage":
        return [writer.lastPeriodUsage(lastPeriod)];
      case "closeCurrentPeriod": {
        const delivered = deliveredWhAt(clockMs);
        lastPeriod = {
          usageWh: delivered - period.startDeliveredWh,
          startMs: period.startMs,
          endMs: clockMs,
        };
        period = { startMs: clockMs, startDeliveredWh: delivered };
        return [];
      }
      case "setFastPoll":
        schedules.setFastPoll(command.frequencyS, command.durationS, clockMs);
        return [];
      case "getProfileData":
        return [profileAnswer(command, { support: profileSupport, household, writer, clockMs })];
    }
  }

  /** The scheduled fragment for `event` due at `timeMs`, or null when there is nothing to say. */
  function push(event: ScheduleEventName, timeMs: number): string | null {
    switch (event) {
      case "demand":
      case "summation":
      case "price":
        return (cache[event] = build[event](timeMs));
      case "time":
        return writer.time(timeMs);
      case "message":
        return household.messageAt(timeMs) ? messageFragment(timeMs) : null;
    }
  }

  /**
   * Emits every push due by `targetMs` in time order, at most `maxBurst` schedule events (silent
   * ones included, so an idle message schedule cannot spin either); advances the clock.
   * Returns true when events are still due (backlog).
   */
  function pushDue(targetMs: number, out: string[]): boolean {
    let processed = 0;
    while (processed < maxBurst) {
      const due = schedules.next();
      if (due === null || schedules.get(due).nextDueMs > targetMs) break;
      const dueMs = schedules.get(due).nextDueMs;
      clockMs = Math.max(clockMs, dueMs);
      schedules.advance(due, dueMs);
      const text = push(due, dueMs);
      if (text !== null) out.push(text);
      processed++;
    }
    const backlogged = processed >= maxBurst;
    if (!backlogged) clockMs = Math.max(clockMs, Math.floor(targetMs));
    return backlogged;
  }

  /** Occasional junk like real sticks emit between fragments: NUL runs, stray line breaks. */
  function junk(): string {
    if (junkProbability <= 0 || random() >= junkProbability) return "";
    return random() < 0.8 ? "\0".repeat(1 + Math.floor(random() * 12)) : "\r\n";
  }

  function nextDueWaitMs(): number {
    const waitMs = Math.ceil((schedules.nextDueMs() - clock.nowMs()) / clock.currentSpeed());
    return Math.max(1, Math.min(READ_WAIT_MAX_MS, waitMs));
  }

  async function send(out: string[]): Promise<void> {
    if (out.length === 0) return;
    const text = out.map((fragmentText) => junk() + fragmentText).join("");
    fragmentsSent += out.length;
    await transport.write(encodeWindows1252(text));
  }

  async function run(): Promise<void> {
    const splitter = new FragmentSplitter();
    period = { startMs, startDeliveredWh: deliveredWhAt(startMs) };
    try {
      await send(JOIN_SEQUENCE.map((status) => writer.connectionStatus(status)));
      let backlogged = false;
      while (!stopping) {
        const bytes = await transport.read(backlogged ? 1 : nextDueWaitMs());
        if (bytes === null || stopping) break;
        const out: string[] = [];
        // Pushes first, so replies are computed at a clock that never runs backwards.
        backlogged = pushDue(clock.nowMs(), out);
        for (const xml of bytes.length ? splitter.push(bytes) : []) {
          const command = parseCommand(xml);
          // Lost on the way, like everything else while the link is down.
          if (!linkUp) continue;
          if (command === null) {
            out.push(writer.warning("Unknown command"));
            continue;
          }
          receivedCommands.push(command);
          out.push(...answer(command));
        }
        // Pushes are computed all the same (the household's intervals keep being recorded).
        if (linkUp) await send(out);
      }
    } catch {
      // The gateway side hung up (write rejected) or the transport failed: stop quietly.
    }
  }

  const done = run();
  return {
    receivedCommands,
    get fragmentsSent() {
      return fragmentsSent;
    },
    get simTimeMs() {
      return clockMs;
    },
    done,
    setLinkUp(up: boolean) {
      linkUp = up;
    },
    stop() {
      stopping = true;
      return done;
    },
  };
}
