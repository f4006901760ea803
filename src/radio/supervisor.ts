/**
 * Link supervisor: one per configured port. Opens the radio, initializes it, identifies the device
 * and its meters, takes pushed data, polls what the device does not push, and on a hang-up reports
 * `disconnected` and reopens with a capped backoff (sleeping, not spinning, in between).
 *
 * @module
 */

import { Sleeps } from "./sleeps.ts";
import type { RadioAdapter, RadioAdapterFactory } from "./adapter.ts";
import type { RadioCommand } from "./commands.ts";
import type { LinkState, MeterEvent } from "./events.ts";
import { MeterIdentityGate, type MeterIdentityOptions } from "./meter_identity.ts";
import type { ByteTransport } from "./transport.ts";
import { errorText, fallbackLogger, type Logger, withComponent } from "../log.ts";

/**
 * Kinds of trouble a supervisor counts (persisted by the store as warning counters).
 * `unconfirmedMeter`: one event dropped because its meter id never proved real.
 */
export type LinkProblem =
  | "decodeError"
  | "fieldWarning"
  | "deviceWarning"
  | "openFailed"
  | "unconfirmedMeter";

/** Join state of one meter as its radio last reported it. */
export interface MeterJoinState {
  meter: string;
  status: string;
  connected: boolean;
  linkStrengthPercent: number | null;
  updatedMs: number;
}

export interface LinkSupervisorOptions {
  /** Name of the port in logs and the store (the configured device path). */
  port: string;
  /** Opens the transport; throwing means "not there yet" and is retried with backoff. */
  open: () => ByteTransport | Promise<ByteTransport>;
  /** Builds the device adapter (the radio's protocol) around each opened transport; the caller
   * chooses it, so the supervisor knows no radio type. */
  createAdapter: RadioAdapterFactory;
  onEvent: (event: MeterEvent, receivedAtMs: number) => void;
  onLinkState?: (state: LinkState, detail: string | null) => void;
  onProblem?: (kind: LinkProblem, detail: string) => void;
  /** How often to ask for what the radio does not push (price, messages, join state). */
  pollIntervalMs?: number;
  /** Longest wait of one read; bounds how fast `stop()` returns. */
  readWaitMs?: number;
  minBackoffMs?: number;
  /** Cap of the reconnect backoff; a stick that was unplugged is retried at least every 5 s. */
  maxBackoffMs?: number;
  /** Gap between queued commands; some EMU-2 firmware drops back-to-back commands. */
  commandGapMs?: number;
  /** Where a failed close or a consumer's exception is reported. */
  log?: Logger;
  /** When a meter id counts as real (`meter_identity.ts`); events of others are held back. */
  meterIdentity?: MeterIdentityOptions;
  now?: () => number;
}

interface QueuedCommand {
  command: RadioCommand;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** Supervises one radio link; `start()` runs it in the background until `stop()`. */
export class LinkSupervisor {
  readonly port: string;
  #options:
    & Required<
      Omit<LinkSupervisorOptions, "onLinkState" | "onProblem" | "meterIdentity" | "log">
    >
    & {
      onLinkState?: LinkSupervisorOptions["onLinkState"];
      onProblem?: LinkSupervisorOptions["onProblem"];
    };
  /** Kept across reconnects: a meter confirmed once stays confirmed for this port. */
  readonly #identity: MeterIdentityGate;
  readonly #log: Logger;
  #state: LinkState = "closed";
  #stopped = true;
  #adapter: RadioAdapter | null = null;
  #queue: QueuedCommand[] = [];
  #pumping = false;
  readonly #sleeps = new Sleeps();
  #running: Promise<void> = Promise.resolve();
  #meters = new Map<string, MeterJoinState>();
  #device: string | null = null;
  #lastFragmentMs: number | null = null;
  #reconnects = 0;

  constructor(options: LinkSupervisorOptions) {
    this.port = options.port;
    this.#identity = new MeterIdentityGate(options.meterIdentity);
    this.#log = options.log ?? withComponent(fallbackLogger, options.port);
    this.#options = {
      pollIntervalMs: 60_000,
      readWaitMs: 250,
      minBackoffMs: 250,
      maxBackoffMs: 5_000,
      commandGapMs: 100,
      now: Date.now,
      ...options,
    };
  }

  get state(): LinkState {
    return this.#state;
  }

  /** Radio MAC once the device identified itself. */
  get device(): string | null {
    return this.#device;
  }

  get meters(): MeterJoinState[] {
    return [...this.#meters.values()];
  }

  get lastFragmentMs(): number | null {
    return this.#lastFragmentMs;
  }

  get reconnects(): number {
    return this.#reconnects;
  }

  get adapterStats() {
    return this.#adapter?.stats ?? null;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#running = this.#run();
  }

  /**
   * Stops the link and releases the port; resolves once everything is closed. Commands still
   * queued are rejected, not written: woken from its gap, the queue would go out back-to-back.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#failQueue(new Error(`${this.port}: link stopped`));
    this.#sleeps.wakeAll();
    await this.#running;
  }

  /** Queues a command for the radio; resolves once written. Rejects while disconnected. */
  send(command: RadioCommand): Promise<void> {
    if (this.#adapter === null || this.#stopped) {
      return Promise.reject(new Error(`${this.port}: radio is ${this.#state}`));
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ command, resolve, reject });
      void this.#pump();
    });
  }

  async #run(): Promise<void> {
    let backoffMs = this.#options.minBackoffMs;
    let everConnected = false;
    while (!this.#stopped) {
      this.#setState("connecting", null);
      let transport: ByteTransport;
      try {
        transport = await this.#options.open();
      } catch (error) {
        const detail = (error as Error).message;
        this.#options.onProblem?.("openFailed", detail);
        this.#setState("disconnected", detail);
        await this.#sleep(backoffMs);
        backoffMs = Math.min(backoffMs * 2, this.#options.maxBackoffMs);
        continue;
      }
      backoffMs = this.#options.minBackoffMs;
      if (everConnected) this.#reconnects++;
      everConnected = true;
      const adapter = this.#options.createAdapter(transport);
      this.#adapter = adapter;
      this.#setState("initializing", null);
      this.#enqueueAll(initialCommands());
      const hangUp = await this.#readLoop(adapter);
      this.#adapter = null;
      this.#failQueue(new Error(`${this.port}: radio disconnected`));
      await adapter.close().catch((error) => this.#log.warn(`close failed: ${errorText(error)}`));
      if (!this.#stopped) {
        this.#setState("disconnected", hangUp);
        await this.#sleep(backoffMs);
      }
    }
    this.#setState("closed", null);
  }

  /** Reads until hang-up or stop; returns why it ended. */
  async #readLoop(adapter: RadioAdapter): Promise<string> {
    let nextPollMs = this.#options.now() + this.#options.pollIntervalMs;
    while (!this.#stopped) {
      let result;
      try {
        result = await adapter.read(this.#options.readWaitMs);
      } catch (error) {
        return `read failed: ${(error as Error).message}`;
      }
      if (result === null) return "device hung up";
      const receivedAtMs = this.#options.now();
      for (const error of result.errors) this.#options.onProblem?.("decodeError", error);
      for (const warning of result.warnings) this.#options.onProblem?.("fieldWarning", warning);
      if (result.events.length > 0) {
        this.#lastFragmentMs = receivedAtMs;
        if (this.#state !== "connected") this.#setState("connected", null);
      }
      for (const event of result.events) {
        this.#observe(event, receivedAtMs);
        const { pass, dropped } = this.#identity.admit(event, receivedAtMs);
        for (const lost of dropped) {
          this.#options.onProblem?.(
            "unconfirmedMeter",
            `${lost.event.fragment} of meter ${lost.event.meter} dropped: id never confirmed`,
          );
        }
        for (const ready of pass) {
          this.#guard("onEvent", () => this.#options.onEvent(ready.event, ready.receivedAtMs));
        }
      }
      if (receivedAtMs >= nextPollMs) {
        nextPollMs = receivedAtMs + this.#options.pollIntervalMs;
        this.#enqueueAll(pollCommands([...this.#meters.keys()]));
      }
    }
    return "stopped";
  }

  /** Tracks identity and join state; asks for details of newly seen meters. */
  #observe(event: MeterEvent, receivedAtMs: number): void {
    if (event.device !== null) this.#device = event.device;
    switch (event.kind) {
      case "meterList":
        for (const meter of event.meters) {
          if (!this.#meters.has(meter)) {
            this.#meters.set(meter, {
              meter,
              status: "Listed",
              connected: false,
              linkStrengthPercent: null,
              updatedMs: receivedAtMs,
            });
            this.#enqueueAll([{ name: "getMeterInfo", meter }]);
          }
        }
        break;
      case "connection":
        if (event.meter !== null) {
          this.#meters.set(event.meter, {
            meter: event.meter,
            status: event.status,
            connected: event.connected,
            linkStrengthPercent: event.linkStrengthPercent,
            updatedMs: receivedAtMs,
          });
        }
        break;
      case "deviceWarning":
        this.#options.onProblem?.("deviceWarning", event.text);
        break;
    }
  }

  #enqueueAll(commands: RadioCommand[]): void {
    for (const command of commands) {
      this.send(command).catch(() => {
        // Lost with the link; the initial sequence runs again after reconnecting.
      });
    }
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#queue.length > 0) {
        const adapter = this.#adapter;
        const next = this.#queue.shift()!;
        if (adapter === null) {
          next.reject(new Error(`${this.port}: radio is ${this.#state}`));
          continue;
        }
        try {
          await adapter.send(next.command);
          next.resolve();
        } catch (error) {
          next.reject(error as Error);
        }
        if (this.#queue.length > 0) await this.#sleep(this.#options.commandGapMs);
      }
    } finally {
      this.#pumping = false;
    }
  }

  #failQueue(error: Error): void {
    for (const queued of this.#queue.splice(0)) queued.reject(error);
  }

  #setState(state: LinkState, detail: string | null): void {
    if (state === this.#state) return;
    this.#state = state;
    this.#guard("onLinkState", () => this.#options.onLinkState?.(state, detail));
  }

  /** A consumer's bug must not end the link: report it and carry on reading the radio. */
  #guard(what: string, callback: () => void): void {
    try {
      callback();
    } catch (error) {
      this.#log.error(`${what} failed: ${errorText(error)}`);
    }
  }

  /** Sleeps without spinning; `stop()` cuts it short. */
  #sleep(ms: number): Promise<void> {
    return this.#stopped ? Promise.resolve() : this.#sleeps.sleep(ms);
  }
}

/** What the gateway asks right after opening: identify the radio, its meters and their state. */
export function initialCommands(): RadioCommand[] {
  return [
    { name: "initialize" },
    { name: "getDeviceInfo" },
    { name: "getMeterList" },
    { name: "getConnectionStatus" },
    { name: "getNetworkInfo" },
    { name: "getCurrentPrice" },
    { name: "getMessage" },
    { name: "getCurrentSummationDelivered", refresh: true },
    { name: "getInstantaneousDemand", refresh: true },
  ];
}

/** Periodic questions for data the radio does not push on its own. */
export function pollCommands(meters: string[]): RadioCommand[] {
  const targets = meters.length > 1 ? meters : [undefined];
  return [
    { name: "getConnectionStatus" },
    ...targets.flatMap((meter): RadioCommand[] => [
      { name: "getCurrentPrice", meter },
      { name: "getMessage", meter },
      { name: "getCurrentSummationDelivered", meter, refresh: true },
    ]),
  ];
}
