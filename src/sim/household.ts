/**
 * A deterministic household behind the simulated meter: signed demand over time (base load, fridge,
 * HVAC, cooking, evening use, optional rooftop solar, noise), an energy integrator that keeps the
 * meter's delivered/received registers, 15-minute interval history, time-of-use prices and
 * occasional utility messages.
 *
 * Everything is a pure function of the seed and the sim time except the integrator, whose
 * registers depend only on the origin and the time it was advanced to (never on how often it was
 * advanced), so a second household with the same options reproduces a running one exactly.
 *
 * @module
 */

const SECOND_MS = 1000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Milli-joules per watt-hour: the integrator counts in W·ms so it stays an exact integer. */
const MILLIJOULES_PER_WH = 3_600_000;
/** Interval history kept for `get_profile_data` (the gateway's window is 48 h). */
const HISTORY_MS = 48 * HOUR_MS;

/** A small seeded PRNG (mulberry32): uniform numbers in [0, 1). */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Counter-based randomness: a uniform number in [0, 1) for (seed, stream, index). Lets demand at
 * any instant be computed without replaying a sequential generator from the beginning.
 */
function noise(seed: number, stream: number, index: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(stream + 1, 0xc2b2ae35);
  h = Math.imul(h ^ (index | 0), 0x27d4eb2f) ^ Math.imul((index / 4294967296) | 0, 0x165667b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

/** Noise streams, one per phenomenon, so changing one never shifts another. */
const Stream = {
  secondNoise: 1,
  dayTemperature: 2,
  dayCooking: 3,
  daySun: 4,
  cloud: 5,
  cookingFlicker: 6,
  message: 7,
  messageText: 8,
} as const;

/** The meter's energy registers at one instant. */
export interface EnergyRegisters {
  timeMs: number;
  /** Imported energy, monotonic. */
  summationDeliveredWh: number;
  /** Exported energy (solar), monotonic. */
  summationReceivedWh: number;
}

/** One closed profile interval (whole Wh counts, as a meter's interval channel reports them). */
export interface IntervalReading {
  endTimeMs: number;
  deliveredWh: number;
  receivedWh: number;
}

/** A time-of-use price block. */
export interface PriceTier {
  /** 1 = off-peak, 2 = mid-peak, 3 = on-peak. */
  tier: number;
  label: string;
  pricePerKWh: number;
  /** ISO 4217 numeric (840 = USD). */
  currencyCode: number;
  /** When this block began and ends (Unix ms). */
  startTimeMs: number;
  endTimeMs: number;
}

/** A utility text message as the meter would relay it. */
export interface UtilityMessage {
  /** Unsigned 32-bit message id. */
  id: number;
  text: string;
  confirmationRequired: boolean;
  startTimeMs: number;
  durationMinutes: number;
}

export interface HouseholdOptions {
  seed: number;
  /** Rooftop solar; net demand turns negative around midday on sunny days. */
  solar?: boolean;
  /** Solar peak output on a clear day (default 5500 W). */
  solarPeakW?: number;
  /** Local time = UTC + this, for the daily shape and price tiers (default 0). */
  utcOffsetMinutes?: number;
  /** Integrator origin; defaults to the first `advanceTo` time. */
  startTimeMs?: number;
  /** Register values at the origin (default derived from the seed, like an old meter). */
  initialDeliveredWh?: number;
  initialReceivedWh?: number;
  /** Profile interval length (default 900 s, ProfileIntervalPeriod 3). */
  intervalS?: number;
  /** One message per this many hours on average (default 24). */
  messageEveryHours?: number;
  /**
   * Every message asks for confirmation (default: some do, as the texts say). A test that confirms
   * the newest message needs one whatever the hour it runs at.
   */
  everyMessageAsksConfirmation?: boolean;
}

export interface Household {
  readonly seed: number;
  readonly utcOffsetMinutes: number;
  readonly intervalS: number;
  /** Signed net demand in whole watts (negative = exporting); constant within each sim second. */
  demandW(simTimeMs: number): number;
  /**
   * Integrates demand up to `simTimeMs` and returns the registers there. Never runs backwards:
   * an earlier time returns the current registers unchanged.
   */
  advanceTo(simTimeMs: number): EnergyRegisters;
  /** The registers at the last `advanceTo` (the origin before the first). */
  readonly registers: EnergyRegisters;
  /** Closed intervals ending at or before `endTimeMs` (default: latest), newest first. */
  intervals(options: { count: number; endTimeMs?: number }): IntervalReading[];
  priceAt(simTimeMs: number): PriceTier;
  /** The message active at `simTimeMs`, or null. */
  messageAt(simTimeMs: number): UtilityMessage | null;
}

const MESSAGE_TEXTS: readonly { text: string; confirm: boolean }[] = [
  { text: "Peak pricing 4-8 PM today. Shift laundry & dishwashing to off-peak.", confirm: false },
  { text: "Heat advisory: 38°C expected. Please confirm your thermostat event.", confirm: true },
  { text: 'Demand response event <2 h> starting soon. Reply "OK" to confirm.', confirm: true },
  { text: "Your new rate plan starts next month.", confirm: false },
  { text: "Planned maintenance tonight – brief outages possible.", confirm: true },
];

/** Time-of-use schedule by local hour: [fromHour, toHour, tier]. */
const TOU_BLOCKS: readonly (readonly [number, number, number])[] = [
  [0, 7, 1],
  [7, 16, 2],
  [16, 20, 3],
  [20, 22, 2],
  [22, 24, 1],
];
const TIERS: Readonly<Record<number, { label: string; pricePerKWh: number }>> = {
  1: { label: "Off-Peak", pricePerKWh: 0.089 },
  2: { label: "Mid-Peak", pricePerKWh: 0.132 },
  3: { label: "On-Peak", pricePerKWh: 0.287 },
};

/** Builds a household; identical options give identical demand, registers, prices and messages. */
export function createHousehold(options: HouseholdOptions): Household {
  const seed = options.seed | 0;
  const random = createRandom(seed);
  const utcOffsetMs = (options.utcOffsetMinutes ?? 0) * 60_000;
  const intervalMs = (options.intervalS ?? 900) * SECOND_MS;
  const messageEveryMs = (options.messageEveryHours ?? 24) * HOUR_MS;
  const solarPeakW = options.solar ? (options.solarPeakW ?? 5500) : 0;

  // Per-household constants, drawn once so each seed is a different home.
  const baseLoadW = 150 + random() * 150;
  const fridgeW = 90 + random() * 60;
  const fridgePeriodS = Math.round(2400 + random() * 1200);
  const fridgePhaseS = Math.round(random() * fridgePeriodS);
  const hvacW = 2400 + random() * 1200;
  const eveningW = 150 + random() * 200;
  const initialDeliveredWh = options.initialDeliveredWh ?? Math.round(2e6 + random() * 2e7);
  const initialReceivedWh = options.initialReceivedWh ??
    (options.solar ? Math.round(random() * 5e6) : 0);

  const localHours = (timeMs: number) =>
    ((timeMs + utcOffsetMs) % DAY_MS + DAY_MS) % DAY_MS / HOUR_MS;
  const localDay = (timeMs: number) => Math.floor((timeMs + utcOffsetMs) / DAY_MS);
  const bump = (hours: number, centre: number, width: number) =>
    Math.exp(-0.5 * ((hours - centre) / width) ** 2);

  /** Outdoor temperature: a daily mean drifting between days plus a mid-afternoon maximum. */
  function temperatureC(timeMs: number): number {
    const day = localDay(timeMs);
    const hours = localHours(timeMs);
    const mean = (d: number) => 10 + 20 * noise(seed, Stream.dayTemperature, d);
    const dailyMean = mean(day) + (mean(day + 1) - mean(day)) * (hours / 24);
    return dailyMean + 6 * Math.cos((2 * Math.PI * (hours - 15)) / 24);
  }

  /** HVAC cycles on a 20-minute period with a duty cycle that grows with the temperature gap. */
  function hvacDemandW(timeMs: number, second: number): number {
    const temperature = temperatureC(timeMs);
    const gap = temperature > 24 ? temperature - 24 : temperature < 15 ? 15 - temperature : 0;
    const duty = Math.min(0.9, gap / 12);
    return (second % 1200) < duty * 1200 ? hvacW : 0;
  }

  function cookingDemandW(timeMs: number, second: number): number {
    const hours = localHours(timeMs);
    const appetite = 0.5 + noise(seed, Stream.dayCooking, localDay(timeMs));
    const shape = 1400 * bump(hours, 7.5, 0.4) + 2600 * bump(hours, 18.6, 0.6);
    // Burners and the oven switch on and off minute by minute.
    const flicker = 0.4 + 0.6 * noise(seed, Stream.cookingFlicker, Math.floor(second / 60));
    return shape * appetite * flicker;
  }

  /** Solar output: a midday sine, scaled by the day's sunniness and 10-minute passing clouds. */
  function solarW(timeMs: number, second: number): number {
    if (solarPeakW === 0) return 0;
    const hours = localHours(timeMs);
    if (hours <= 6 || hours >= 18) return 0;
    const elevation = Math.sin((Math.PI * (hours - 6)) / 12);
    const sunny = noise(seed, Stream.daySun, localDay(timeMs)) > 0.25;
    const slot = second / 600;
    const from = noise(seed, Stream.cloud, Math.floor(slot));
    const to = noise(seed, Stream.cloud, Math.floor(slot) + 1);
    const cloud = from + (to - from) * (slot - Math.floor(slot));
    const sky = sunny ? 0.8 + 0.2 * cloud : 0.15 + 0.45 * cloud;
    return solarPeakW * elevation ** 1.2 * sky;
  }

  function demandW(simTimeMs: number): number {
    const second = Math.floor(simTimeMs / SECOND_MS);
    const timeMs = second * SECOND_MS;
    const hours = localHours(timeMs);
    const fridge = ((second + fridgePhaseS) % fridgePeriodS) < fridgePeriodS * 0.35 ? fridgeW : 0;
    const evening = eveningW * bump(hours, 20.5, 1.6);
    const jitter = (noise(seed, Stream.secondNoise, second) - 0.5) * 40;
    const load = baseLoadW + fridge + evening + jitter + hvacDemandW(timeMs, second) +
      cookingDemandW(timeMs, second);
    return Math.round(load - solarW(timeMs, second));
  }

  // Integrator state: W·ms counts are exact integers, so the registers never drift with call pattern.
  let started = false;
  let cursorMs = 0;
  let deliveredMilliJ = 0;
  let receivedMilliJ = 0;
  /** Register snapshots at each interval boundary reached, oldest first. */
  const boundaries: EnergyRegisters[] = [];

  const snapshot = (timeMs: number): EnergyRegisters => ({
    timeMs,
    summationDeliveredWh: initialDeliveredWh + deliveredMilliJ / MILLIJOULES_PER_WH,
    summationReceivedWh: initialReceivedWh + receivedMilliJ / MILLIJOULES_PER_WH,
  });

  function integrate(fromMs: number, toMs: number): void {
    const watts = demandW(fromMs);
    const milliJ = watts * (toMs - fromMs);
    if (milliJ > 0) deliveredMilliJ += milliJ;
    else receivedMilliJ -= milliJ;
  }

  function recordBoundary(): void {
    if (cursorMs % intervalMs !== 0) return;
    boundaries.push(snapshot(cursorMs));
    while (boundaries[0].timeMs < cursorMs - HISTORY_MS) boundaries.shift();
  }

  function start(originMs: number): void {
    started = true;
    cursorMs = Math.floor(originMs);
    recordBoundary();
  }

  function advanceTo(simTimeMs: number): EnergyRegisters {
    const target = Math.floor(simTimeMs);
    if (!started) start(target);
    while (cursorMs < target) {
      // Step to the next whole second (demand is constant within it) or to the target.
      const next = Math.min(target, (Math.floor(cursorMs / SECOND_MS) + 1) * SECOND_MS);
      integrate(cursorMs, next);
      cursorMs = next;
      recordBoundary();
    }
    return snapshot(cursorMs);
  }

  if (options.startTimeMs !== undefined) start(options.startTimeMs);

  function intervals(query: { count: number; endTimeMs?: number }): IntervalReading[] {
    const readings: IntervalReading[] = [];
    for (let i = boundaries.length - 1; i > 0 && readings.length < query.count; i--) {
      const end = boundaries[i];
      if (query.endTimeMs && end.timeMs > query.endTimeMs) continue;
      const start = boundaries[i - 1];
      readings.push({
        endTimeMs: end.timeMs,
        // Differences of the whole counts, so intervals add up to what the register showed.
        deliveredWh: Math.floor(end.summationDeliveredWh) - Math.floor(start.summationDeliveredWh),
        receivedWh: Math.floor(end.summationReceivedWh) - Math.floor(start.summationReceivedWh),
      });
    }
    return readings;
  }

  function priceAt(simTimeMs: number): PriceTier {
    const hours = localHours(simTimeMs);
    const [fromHour, toHour, tier] = TOU_BLOCKS.find(([from, to]) => hours >= from && hours < to) ??
      TOU_BLOCKS[0];
    const midnightMs = localDay(simTimeMs) * DAY_MS - utcOffsetMs;
    return {
      tier,
      ...TIERS[tier],
      currencyCode: 840,
      startTimeMs: midnightMs + fromHour * HOUR_MS,
      endTimeMs: midnightMs + toHour * HOUR_MS,
    };
  }

  function messageAt(simTimeMs: number): UtilityMessage | null {
    const slot = Math.floor(simTimeMs / messageEveryMs);
    const durationMinutes = Math.max(10, Math.round(messageEveryMs / 60_000 / 8));
    const startTimeMs = slot * messageEveryMs +
      Math.floor(noise(seed, Stream.message, slot) * 0.75 * messageEveryMs / 60_000) * 60_000;
    if (simTimeMs < startTimeMs || simTimeMs >= startTimeMs + durationMinutes * 60_000) return null;
    const pick =
      MESSAGE_TEXTS[Math.floor(noise(seed, Stream.messageText, slot) * MESSAGE_TEXTS.length)];
    return {
      id: Math.floor(noise(seed ^ 0x3e55a9e5, Stream.message, slot) * 4294967296) >>> 0,
      text: pick.text,
      confirmationRequired: pick.confirm || options.everyMessageAsksConfirmation === true,
      startTimeMs,
      durationMinutes,
    };
  }

  return {
    seed,
    utcOffsetMinutes: options.utcOffsetMinutes ?? 0,
    intervalS: intervalMs / SECOND_MS,
    demandW,
    advanceTo,
    get registers() {
      return snapshot(cursorMs);
    },
    intervals,
    priceAt,
    messageAt,
  };
}
