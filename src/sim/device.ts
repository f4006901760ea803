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
 * @module
 */

import type { ByteTransport } from "../radio/transport.ts";
import type { RadioCommand, ScheduleEventName } from "../radio/commands.ts";
import { FragmentSplitter } from "../radio/raven/framing.ts";
import { parseCommand } from "../radio/raven/commands.ts";
import type { EnergyRegisters, Household, UtilityMessage } from "./household.ts";
import { createRandom } from "./household.ts";
import {
  demandHex,
  encodeWindows1252,
  escapeXmlText,
  formatFragment,
  type FragmentField,
  hex,
  type LineEnding,
  tsHex,
  UNSET_TIME_HEX,
} from "./format.ts";

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
  /** How the meter answers `get_profile_data` (default `full`); see {@link ProfileSupport}. */
  profileSupport?: ProfileSupport;
}

/**
 * What a meter does with `get_profile_data`, as meters differ: `full` answers both channels;
 * `deliveredOnly` answers `Received` with Status 2 (channel not supported); `unsupported` answers
 * every request with Status 2; `unknownCommand` is a radio that does not know the command at all
 * (`<Warning>` "Unknown command").
 */
export type ProfileSupport = "full" | "deliveredOnly" | "unsupported" | "unknownCommand";

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

const SCHEDULE_EVENTS: readonly ScheduleEventName[] = [
  "time",
  "price",
  "demand",
  "summation",
  "message",
];

/** ProfileIntervalPeriod codes by interval length in seconds (manual p.29). */
const PROFILE_PERIOD_CODES: Readonly<Record<number, number>> = {
  86400: 0,
  3600: 1,
  1800: 2,
  900: 3,
  600: 4,
  450: 5,
  300: 6,
  150: 7,
};
const MAX_PROFILE_PERIODS = 12;
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

interface Schedule {
  frequencyS: number;
  enabled: boolean;
  nextDueMs: number;
}

/** Starts the device loop on `options.transport` and returns its handle at once. */
export function startSimulatedMeter(options: SimulatedMeterOptions): SimulatedMeter {
  const { transport, household } = options;
  const deviceMac = options.deviceMac.toLowerCase();
  const meterMac = options.meterMac.toLowerCase();
  const speed = options.speed ?? 1;
  const model = options.model ?? "emu2";
  const lineEnding = options.lineEnding ?? "\r\n";
  const junkProbability = options.junkProbability ?? 0;
  const maxBurst = options.maxBurstFragments ?? 200;
  const presentMs = options.startTimeMs ?? Date.now();
  const catchUpSpeed = Math.max(speed, options.catchUpSpeed ?? 20_000);
  const backfillMs = catchUpSpeed > speed ? Math.max(0, options.backfillMs ?? 0) : 0;
  const startMs = Math.floor((presentMs - backfillMs) / 1000) * 1000;
  // The fast clock meets the normal one (present + elapsed × speed) after this much wall time.
  const catchUpWallMs = backfillMs / (catchUpSpeed - speed || 1);
  const wallStartMs = performance.now();
  const random = createRandom(household.seed ^ 0x51ed);
  const summationDigits = model === "emu2" ? 16 : 8;

  const frequenciesS: Record<ScheduleEventName, number> = {
    time: options.timeEverySimS ?? 900,
    price: options.priceEverySimS ?? 120,
    demand: options.demandEverySimS ?? 8,
    summation: options.summationEverySimS ?? 60,
    message: options.messageEverySimS ?? 120,
  };
  // Every schedule is due at the start, so the first pushes follow `Connected` immediately.
  const schedules = Object.fromEntries(SCHEDULE_EVENTS.map((event): [string, Schedule] => [
    event,
    { frequencyS: frequenciesS[event], enabled: true, nextDueMs: startMs },
  ])) as Record<ScheduleEventName, Schedule>;

  let clockMs = startMs;
  let fastPoll: { frequencyS: number; untilMs: number } | null = null;
  let userPrice: { price: number; trailingDigits: number } | null = null;
  const confirmedMessageIds = new Set<number>();
  let lastMessage: UtilityMessage | null = null;
  /** Last pushed fragment per kind, answered for `Refresh N` (the radio's cache). */
  const cache: Partial<Record<"demand" | "summation" | "price", string>> = {};
  let period = { startMs, startDeliveredWh: 0 };
  let lastPeriod: { usageWh: number; startMs: number; endMs: number } | null = null;
  const receivedCommands: RadioCommand[] = [];
  let fragmentsSent = 0;
  let stopping = false;
  let linkUp = true;
  const profileSupport = options.profileSupport ?? "full";

  const simNowMs = () => {
    const elapsedMs = performance.now() - wallStartMs;
    return elapsedMs < catchUpWallMs
      ? startMs + elapsedMs * catchUpSpeed
      : presentMs + elapsedMs * speed;
  };
  const currentSpeed = () => performance.now() - wallStartMs < catchUpWallMs ? catchUpSpeed : speed;
  const ids = (): FragmentField[] => [["DeviceMacId", deviceMac], ["MeterMacId", meterMac]];
  const fragment = (root: string, fields: FragmentField[]) =>
    formatFragment(root, fields, lineEnding);
  const yn = (value: boolean) => (value ? "Y" : "N");
  const registersAt = (timeMs: number): EnergyRegisters => household.advanceTo(timeMs);
  const scaling = (digitsRight: number): FragmentField[] => [
    ["Multiplier", hex(1, 8)],
    ["Divisor", hex(1000, 8)],
    ["DigitsRight", hex(digitsRight, 2)],
    ["DigitsLeft", hex(6, 2)],
    ["SuppressLeadingZero", "Y"],
  ];
  /** Stable pseudo-random hex digits derived from the MAC (install code, link key). */
  const macDigits = (count: number, salt: number) => {
    const rng = createRandom(parseInt(deviceMac.slice(-8), 16) ^ salt);
    return Array.from({ length: count }, () => Math.floor(rng() * 16).toString(16)).join("");
  };
  const channel = 11 + (parseInt(meterMac.slice(-2), 16) % 16);
  const shortAddr = hex(parseInt(deviceMac.slice(-4), 16) ^ 0x5a5a, 4);

  function connectionStatus(status: string): string {
    const joined = status !== "Initializing" && status !== "Network Discovery";
    const fields: FragmentField[] = [...ids(), ["Status", status]];
    if (status === "Connected") fields.push(["Description", "Successfully Joined"]);
    if (joined) {
      fields.push(["ExtPanId", meterMac], ["Channel", String(channel)], [
        "ShortAddr",
        shortAddr,
      ]);
    }
    const strength = !joined ? 0 : status === "Joining" || status === "Join: Success" ? 0x50 : 0x64;
    fields.push(["LinkStrength", hex(strength, 2)]);
    return fragment("ConnectionStatus", fields);
  }

  function deviceInfo(): string {
    const raven = model === "raven";
    return fragment("DeviceInfo", [
      ["DeviceMacId", deviceMac],
      ["InstallCode", "0x" + macDigits(16, 1)],
      ["LinkKey", "0x" + macDigits(32, 2)],
      ["FWVersion", raven ? "1.4.13 (4718)" : "2.0.0 (7400)"],
      ["HWVersion", raven ? "1.0.0" : "2.7.3"],
      ["ImageType", raven ? "0x1301" : "0x2201"],
      ["Manufacturer", "Rainforest Automation, Inc."],
      ["ModelId", raven ? "RFA-Z106" : "Z105-2-EMU2-LEDD_JM"],
      [
        "DateCode",
        (raven ? "20130514" : "20200511") +
        String(parseInt(deviceMac.slice(-6), 16) % 1e8).padStart(8, "0"),
      ],
    ]);
  }

  function networkInfo(): string {
    return fragment("NetworkInfo", [
      ["DeviceMacId", deviceMac],
      ["CoordMacId", meterMac],
      ["Status", "Connected"],
      ["Description", "Successfully Joined"],
      ["ExtPanId", meterMac],
      ["Channel", String(channel)],
      ["ShortAddr", shortAddr],
      ["LinkStrength", hex(0x64, 2)],
    ]);
  }

  function demandFragment(timeMs: number): string {
    return fragment("InstantaneousDemand", [
      ...ids(),
      ["TimeStamp", tsHex(timeMs)],
      ["Demand", demandHex(household.demandW(timeMs))],
      ...scaling(3),
    ]);
  }

  function summationFragment(timeMs: number): string {
    const registers = registersAt(timeMs);
    return fragment("CurrentSummationDelivered", [
      ...ids(),
      ["TimeStamp", tsHex(timeMs)],
      ["SummationDelivered", hex(Math.floor(registers.summationDeliveredWh), summationDigits)],
      ["SummationReceived", hex(Math.floor(registers.summationReceivedWh), summationDigits)],
      ...scaling(1),
    ]);
  }

  function priceFragment(timeMs: number): string {
    const tier = household.priceAt(timeMs);
    const price = userPrice ?? { price: Math.round(tier.pricePerKWh * 1000), trailingDigits: 3 };
    const label = userPrice ? "Set by User" : tier.label;
    const fields: FragmentField[] = [
      ...ids(),
      ["TimeStamp", tsHex(timeMs)],
      ["Price", hex(price.price, 8)],
      ["Currency", hex(tier.currencyCode, 4)],
      ["TrailingDigits", hex(price.trailingDigits, 2)],
      // A user-set price is reported as tier 1, as an EMU-2 does (roachwork capture).
      ["Tier", hex(userPrice ? 1 : tier.tier, 2)],
    ];
    if (model === "emu2") {
      fields.push(
        ["StartTime", userPrice ? UNSET_TIME_HEX : tsHex(tier.startTimeMs)],
        ["Duration", userPrice ? "0xffff" : hex((tier.endTimeMs - tier.startTimeMs) / 60_000, 4)],
      );
    } else {
      fields.push(["TierLabel", escapeXmlText(label)]);
    }
    fields.push(["RateLabel", escapeXmlText(label)]);
    return fragment("PriceCluster", fields);
  }

  function timeFragment(timeMs: number): string {
    return fragment("TimeCluster", [
      ...ids(),
      ["UTCTime", tsHex(timeMs)],
      ["LocalTime", tsHex(timeMs + household.utcOffsetMinutes * 60_000)],
    ]);
  }

  /** The active message, else the last one seen; an all-empty fragment when there never was one. */
  function messageFragment(timeMs: number): string {
    const active = household.messageAt(timeMs);
    if (active) lastMessage = active;
    if (!lastMessage) {
      const names = ["TimeStamp", "Id", "Text", "ConfirmationRequired", "Confirmed", "Queue"];
      return fragment("MessageCluster", [
        ...ids(),
        ...names.map((name): FragmentField => [name, ""]),
      ]);
    }
    return fragment("MessageCluster", [
      ...ids(),
      ["TimeStamp", tsHex(lastMessage.startTimeMs)],
      ["Id", hex(lastMessage.id, 8)],
      ["Text", escapeXmlText(lastMessage.text)],
      ["ConfirmationRequired", yn(lastMessage.confirmationRequired)],
      ["Confirmed", yn(confirmedMessageIds.has(lastMessage.id))],
      ["Queue", active ? "Active" : "Cancel Pending"],
    ]);
  }

  function periodUsageFragment(timeMs: number): string {
    const delivered = Math.floor(registersAt(timeMs).summationDeliveredWh);
    return fragment("CurrentPeriodUsage", [
      ...ids(),
      ["TimeStamp", tsHex(timeMs)],
      ["CurrentUsage", hex(delivered - period.startDeliveredWh, summationDigits)],
      ...scaling(3),
      ["StartDate", tsHex(period.startMs)],
    ]);
  }

  function lastPeriodFragment(): string {
    return fragment("LastPeriodUsage", [
      ...ids(),
      ["LastUsage", hex(lastPeriod?.usageWh ?? 0, summationDigits)],
      ...scaling(3),
      ["StartDate", lastPeriod ? tsHex(lastPeriod.startMs) : UNSET_TIME_HEX],
      ["EndDate", lastPeriod ? tsHex(lastPeriod.endMs) : UNSET_TIME_HEX],
    ]);
  }

  /** Status before looking at the history: 2 for an unsupported channel, 4 for too many. */
  function profileRefusal(command: Extract<RadioCommand, { name: "getProfileData" }>): number {
    const unsupported = profileSupport === "unsupported" ||
      (profileSupport === "deliveredOnly" && command.channel === "Received");
    if (unsupported) return 2;
    if (command.numberOfPeriods > MAX_PROFILE_PERIODS) return 4;
    return command.endTimeMs !== undefined && command.endTimeMs > clockMs ? 3 : 0;
  }

  function profileFragment(command: Extract<RadioCommand, { name: "getProfileData" }>): string {
    const periodCode = PROFILE_PERIOD_CODES[household.intervalS] ?? 3;
    const refusal = profileRefusal(command);
    const readings = refusal !== 0 ? [] : household.intervals({
      count: command.numberOfPeriods,
      endTimeMs: command.endTimeMs,
    });
    const status = refusal !== 0 ? refusal : readings.length ? 0 : 5;
    const fields: FragmentField[] = [
      ...ids(),
      ["EndTime", readings.length ? tsHex(readings[0].endTimeMs) : hex(0, 8)],
      ["Status", hex(status, 2)],
      ["ProfileIntervalPeriod", String(periodCode)],
      ["NumberOfPeriodsDelivered", hex(readings.length, 2)],
    ];
    for (const reading of readings) {
      const wh = command.channel === "Received" ? reading.receivedWh : reading.deliveredWh;
      fields.push(["IntervalData", hex(Math.min(wh, 0xfffffe), 6)]);
    }
    return fragment("ProfileData", fields);
  }

  function scheduleInfo(event: ScheduleEventName): string {
    const schedule = schedules[event];
    return fragment("ScheduleInfo", [
      ...ids(),
      ["Event", event],
      ["Frequency", schedule.enabled ? hex(schedule.frequencyS, 8) : UNSET_TIME_HEX],
      ["Enabled", yn(schedule.enabled)],
    ]);
  }

  const fresh = (
    kind: "demand" | "summation" | "price",
    build: (timeMs: number) => string,
  ) => (cache[kind] = build(clockMs));
  const cached = (kind: "demand" | "summation" | "price", build: (timeMs: number) => string) =>
    cache[kind] ?? fresh(kind, build);

  /** The reply fragments for one command (none for set-style commands). */
  function answer(command: RadioCommand): string[] {
    switch (command.name) {
      case "initialize":
        return [];
      case "restart":
        return JOIN_SEQUENCE.map(connectionStatus);
      case "getConnectionStatus":
        return [connectionStatus("Connected")];
      case "getDeviceInfo":
        return [deviceInfo()];
      case "getNetworkInfo":
        return [networkInfo()];
      case "getMeterList":
        return [fragment("MeterList", [["DeviceMacId", deviceMac], ["MeterMacId", meterMac]])];
      case "getMeterInfo":
        return [fragment("MeterInfo", [
          ...ids(),
          ["MeterType", "electric"],
          ["NickName", "Home"],
          ["Enabled", "Y"],
        ])];
      case "getSchedule":
        return (command.event ? [command.event] : SCHEDULE_EVENTS).map(scheduleInfo);
      case "setSchedule": {
        const schedule = schedules[command.event];
        schedule.enabled = command.enabled;
        schedule.frequencyS = Math.max(1, command.frequencyS);
        schedule.nextDueMs = clockMs + schedule.frequencyS * 1000;
        return [];
      }
      case "getTime":
        return [timeFragment(clockMs)];
      case "getMessage":
        return [messageFragment(clockMs)];
      case "confirmMessage":
        confirmedMessageIds.add(parseInt(command.messageId, 16) >>> 0);
        return [];
      case "getCurrentPrice":
        return [(command.refresh ? fresh : cached)("price", priceFragment)];
      case "setCurrentPrice":
        userPrice = command.price === 0 ? null : command;
        return [];
      case "getInstantaneousDemand":
        return [(command.refresh ? fresh : cached)("demand", demandFragment)];
      case "getCurrentSummationDelivered":
        return [(command.refresh ? fresh : cached)("summation", summationFragment)];
      case "getCurrentPeriodUsage":
        return [periodUsageFragment(clockMs)];
      case "getLastPeriodUsage":
        return [lastPeriodFragment()];
      case "closeCurrentPeriod": {
        const delivered = Math.floor(registersAt(clockMs).summationDeliveredWh);
        lastPeriod = {
          usageWh: delivered - period.startDeliveredWh,
          startMs: period.startMs,
          endMs: clockMs,
        };
        period = { startMs: clockMs, startDeliveredWh: delivered };
        return [];
      }
      case "setFastPoll": {
        fastPoll = {
          frequencyS: Math.max(1, command.frequencyS),
          untilMs: clockMs + command.durationS * 1000,
        };
        schedules.demand.nextDueMs = Math.min(
          schedules.demand.nextDueMs,
          clockMs + fastPoll.frequencyS * 1000,
        );
        return [];
      }
      case "getProfileData":
        if (profileSupport === "unknownCommand") {
          return [fragment("Warning", [["Text", "Unknown command"]])];
        }
        return [profileFragment(command)];
    }
  }

  /** The scheduled fragment for `event` due at `timeMs`, or null when there is nothing to say. */
  function push(event: ScheduleEventName, timeMs: number): string | null {
    switch (event) {
      case "demand":
        return (cache.demand = demandFragment(timeMs));
      case "summation":
        return (cache.summation = summationFragment(timeMs));
      case "price":
        return (cache.price = priceFragment(timeMs));
      case "time":
        return timeFragment(timeMs);
      case "message":
        return household.messageAt(timeMs) ? messageFragment(timeMs) : null;
    }
  }

  function nextInterval(event: ScheduleEventName, dueMs: number): number {
    const schedule = schedules[event];
    if (event === "demand" && fastPoll && dueMs < fastPoll.untilMs) {
      return Math.min(schedule.frequencyS, fastPoll.frequencyS) * 1000;
    }
    return schedule.frequencyS * 1000;
  }

  /**
   * Emits every push due by `targetMs` in time order, at most `maxBurst` schedule events (silent
   * ones included, so an idle message schedule cannot spin either); advances the clock.
   * Returns true when events are still due (backlog).
   */
  function pushDue(targetMs: number, out: string[]): boolean {
    let processed = 0;
    while (processed < maxBurst) {
      let due: ScheduleEventName | null = null;
      for (const event of SCHEDULE_EVENTS) {
        const schedule = schedules[event];
        if (schedule.enabled && (due === null || schedule.nextDueMs < schedules[due].nextDueMs)) {
          due = event;
        }
      }
      if (due === null || schedules[due].nextDueMs > targetMs) break;
      const dueMs = schedules[due].nextDueMs;
      clockMs = Math.max(clockMs, dueMs);
      schedules[due].nextDueMs = dueMs + nextInterval(due, dueMs);
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
    let nextMs = Infinity;
    for (const event of SCHEDULE_EVENTS) {
      if (schedules[event].enabled) nextMs = Math.min(nextMs, schedules[event].nextDueMs);
    }
    const waitMs = Math.ceil((nextMs - simNowMs()) / currentSpeed());
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
    period = { startMs, startDeliveredWh: Math.floor(registersAt(startMs).summationDeliveredWh) };
    try {
      await send(JOIN_SEQUENCE.map(connectionStatus));
      let backlogged = false;
      while (!stopping) {
        const bytes = await transport.read(backlogged ? 1 : nextDueWaitMs());
        if (bytes === null || stopping) break;
        const out: string[] = [];
        // Pushes first, so replies are computed at a clock that never runs backwards.
        backlogged = pushDue(simNowMs(), out);
        for (const xml of bytes.length ? splitter.push(bytes) : []) {
          const command = parseCommand(xml);
          // Lost on the way, like everything else while the link is down.
          if (!linkUp) continue;
          if (command === null) {
            out.push(fragment("Warning", [["Text", "Unknown command"]]));
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
