/**
 * Which meter ids on a link are real. A corrupted `MeterMacId` (a flipped hex digit) decodes as a
 * well-formed id, and every id the store sees becomes a permanent meter that the owner and the
 * consent page show. So a meter id counts only once its identity is consistent:
 *
 * - announced: the radio named it in a `MeterList`, or in a `ConnectionStatus`/`NetworkInfo`
 *   (the gateway asks for all three on every connect, and for the connection status on every
 *   poll, so a real meter is announced within seconds); or
 * - repeated agreement: `agreements` (3) fragments named it within `windowEvents` (64)
 *   meter-scoped events of the link (captures and replays without announcements). Corruption
 *   spreads over hundreds of ids, so a phantom meeting that bar is vanishingly rare.
 *
 * Events of an id not yet confirmed are held back, at most `agreements - 1` per id and
 * `maxCandidates` (8) ids at once, and released in order once it is confirmed. An id that is not
 * confirmed within the window, or is pushed out by newer candidates, is given up: its held events
 * are dropped and reported, so the loss is counted. Events naming no meter pass unchanged (the
 * store keys them by the port's known meter).
 *
 * @module
 */

import type { MeterEvent } from "./events.ts";

export interface MeterIdentityOptions {
  /** Fragments that must name an unannounced meter before it counts as real. Default 3. */
  agreements?: number;
  /** Meter-scoped events of the link within which those must arrive. Default 64. */
  windowEvents?: number;
  /** Unconfirmed meter ids tracked at once; beyond, the oldest is given up. Default 8. */
  maxCandidates?: number;
}

/** An event with the gateway time it was received. */
export interface ReceivedEvent {
  event: MeterEvent;
  receivedAtMs: number;
}

/** What {@link MeterIdentityGate.admit} lets through and what it gave up. */
export interface GateOutcome {
  /** Events to deliver now, in the order they were received. */
  pass: ReceivedEvent[];
  /** Held events of meter ids given up as not real. */
  dropped: ReceivedEvent[];
}

interface Candidate {
  /** Tick of the first event naming it; the window counts from here. */
  firstTick: number;
  seen: number;
  held: ReceivedEvent[];
}

/** The meter ids an event announces as joined to the radio. */
function announced(event: MeterEvent): string[] {
  if (event.kind === "meterList") return event.meters;
  if (event.kind === "connection" && event.meter !== null) return [event.meter];
  return [];
}

/** Confirms meter ids of one link and holds back events of unconfirmed ones (module doc). */
export class MeterIdentityGate {
  readonly #agreements: number;
  readonly #windowEvents: number;
  readonly #maxCandidates: number;
  readonly #confirmed = new Set<string>();
  /** In insertion order, so the first entry is the oldest candidate. */
  readonly #candidates = new Map<string, Candidate>();
  /** Meter-scoped events seen. */
  #tick = 0;

  constructor(options: MeterIdentityOptions = {}) {
    this.#agreements = atLeastOne("agreements", options.agreements ?? 3);
    this.#windowEvents = atLeastOne("windowEvents", options.windowEvents ?? 64);
    this.#maxCandidates = atLeastOne("maxCandidates", options.maxCandidates ?? 8);
  }

  /** Meter ids confirmed so far. */
  get confirmed(): ReadonlySet<string> {
    return this.#confirmed;
  }

  /** Events held back right now (bounded by `maxCandidates × (agreements − 1)`). */
  get heldEvents(): number {
    let n = 0;
    for (const candidate of this.#candidates.values()) n += candidate.held.length;
    return n;
  }

  /** Takes one decoded event; says what to deliver now and what was given up. */
  admit(event: MeterEvent, receivedAtMs: number): GateOutcome {
    const outcome: GateOutcome = { pass: [], dropped: [] };
    const received = { event, receivedAtMs };
    for (const meter of announced(event)) this.#confirm(meter, outcome);
    const meter = event.meter;
    if (meter === null) {
      outcome.pass.push(received);
      return outcome;
    }
    this.#tick++;
    this.#expire(outcome);
    if (this.#confirmed.has(meter)) {
      outcome.pass.push(received);
      return outcome;
    }
    let candidate = this.#candidates.get(meter);
    if (candidate === undefined) {
      if (this.#candidates.size >= this.#maxCandidates) this.#giveUpOldest(outcome);
      candidate = { firstTick: this.#tick, seen: 0, held: [] };
      this.#candidates.set(meter, candidate);
    }
    candidate.seen++;
    if (candidate.seen < this.#agreements) {
      candidate.held.push(received);
      return outcome;
    }
    this.#confirm(meter, outcome);
    outcome.pass.push(received);
    return outcome;
  }

  #confirm(meter: string, outcome: GateOutcome): void {
    this.#confirmed.add(meter);
    const candidate = this.#candidates.get(meter);
    if (candidate === undefined) return;
    this.#candidates.delete(meter);
    outcome.pass.push(...candidate.held);
  }

  #expire(outcome: GateOutcome): void {
    for (const [meter, candidate] of this.#candidates) {
      if (this.#tick - candidate.firstTick < this.#windowEvents) continue;
      this.#candidates.delete(meter);
      outcome.dropped.push(...candidate.held);
    }
  }

  #giveUpOldest(outcome: GateOutcome): void {
    const [meter, candidate] = this.#candidates.entries().next().value!;
    this.#candidates.delete(meter);
    outcome.dropped.push(...candidate.held);
  }
}

function atLeastOne(name: string, value: number): number {
  if (!(Number.isInteger(value) && value >= 1)) {
    throw new RangeError(`${name} must be an integer ≥ 1, got ${value}`);
  }
  return value;
}
