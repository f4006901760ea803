/**
 * Shared pieces of the end-to-end tests: polling, temp databases, a scripted device on a real
 * pseudo-terminal and the fragment text a RAVEn/EMU-2 stick sends.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { PseudoTerminal } from "../../ffi/libc.ts";
import { SerialPort } from "../../ffi/libserialport.ts";
import type { PortSource } from "../../src/sources.ts";

/** Polls `condition` every 25 ms until it holds; throws with `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  condition: () => boolean,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export function countRows(db: DatabaseSync, table: string, meterKey?: string): number {
  const where = meterKey === undefined ? "" : " WHERE meter_key = ?";
  const params = meterKey === undefined ? [] : [meterKey];
  const row = db.prepare(`SELECT count(*) AS n FROM ${table}${where}`).get(...params);
  return Number(row?.n ?? 0);
}

const RAVEN_EPOCH_S = 946_684_800;

/** An InstantaneousDemand fragment as an EMU-2 formats it (Divisor 1000: raw counts are W). */
export function demandFragment(
  meterMac: string,
  timeMs: number,
  demandW: number,
  lineEnding = "\r\n",
): string {
  const ts = (Math.floor(timeMs / 1000) - RAVEN_EPOCH_S).toString(16).padStart(8, "0");
  const raw = demandW >= 0
    ? demandW.toString(16).padStart(6, "0")
    : (0x1_0000_0000 + demandW).toString(16);
  return [
    "<InstantaneousDemand>",
    "  <DeviceMacId>0xd8d5b9000000e2e1</DeviceMacId>",
    `  <MeterMacId>${meterMac}</MeterMacId>`,
    `  <TimeStamp>0x${ts}</TimeStamp>`,
    `  <Demand>0x${raw}</Demand>`,
    "  <Multiplier>0x00000001</Multiplier>",
    "  <Divisor>0x000003e8</Divisor>",
    "  <DigitsRight>0x03</DigitsRight>",
    "  <DigitsLeft>0x06</DigitsLeft>",
    "  <SuppressLeadingZero>Y</SuppressLeadingZero>",
    "</InstantaneousDemand>",
    "",
  ].join(lineEnding);
}

/** A port whose device the test plays by hand on pseudo-terminal masters; `replug()` swaps. */
export class ScriptedPort {
  master: PseudoTerminal = PseudoTerminal.open();
  #plugged = true;
  opens = 0;

  readonly source: PortSource = {
    port: "scripted",
    open: () => {
      if (!this.#plugged) throw new Error("no such device (unplugged)");
      this.opens++;
      return SerialPort.adoptFd(this.master.openSlaveFd(), this.master.slavePath);
    },
  };

  async write(text: string): Promise<void> {
    await this.master.write(new TextEncoder().encode(text));
  }

  /**
   * Announces a meter the way the radio answers get_meter_list, so the gateway counts its very
   * first reading (an unannounced id needs several agreeing fragments first).
   */
  async announceMeter(meterMac: string): Promise<void> {
    await this.write(
      "<MeterList>\r\n  <DeviceMacId>0xd8d5b9000000e2e1</DeviceMacId>\r\n" +
        `  <MeterMacId>${meterMac}</MeterMacId>\r\n</MeterList>\r\n`,
    );
  }

  /** Pulls the stick: the kernel hangs up the slave, exactly as on a USB unplug. */
  async unplug(): Promise<void> {
    this.#plugged = false;
    await this.master.close();
  }

  /** Plugs a stick back in (a new pseudo-terminal, like a new tty after re-plugging). */
  replug(): void {
    this.master = PseudoTerminal.open();
    this.#plugged = true;
  }

  async close(): Promise<void> {
    await this.master.close();
  }
}

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** A running `openseg serve` subprocess and where its HTTP server listens. */
export interface RunningGateway {
  child: Deno.ChildProcess;
  /** e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** Settles once the gateway's console output ends (after it exits). */
  drained: Promise<void>;
}

/** `deno run` with the gateway's usual permissions, for tests that start it as a process. */
export const GATEWAY_RUN_ARGS = [
  "run",
  "--allow-ffi",
  "--allow-env",
  "--allow-read",
  "--allow-write",
  "--allow-net=127.0.0.1",
];

/** Options of `startGateway`. */
export interface StartGatewayOptions {
  /** A release bundle to run instead of `main.ts` (with `--no-config`, as the binary runs it). */
  bundle?: string;
  /** The gateway's working directory (default: this process's). */
  cwd?: string;
}

/**
 * Starts `openseg serve ARGS --listen 127.0.0.1:0` with the gateway's usual permissions and reads
 * its console until it says where HTTP listens.
 */
export async function startGateway(
  args: string[],
  options: StartGatewayOptions = {},
): Promise<RunningGateway> {
  const child = new Deno.Command(Deno.execPath(), {
    cwd: options.cwd,
    args: [
      ...GATEWAY_RUN_ARGS,
      ...(options.bundle === undefined ? [MAIN] : ["--no-config", options.bundle]),
      "serve",
      ...args,
      "--listen",
      "127.0.0.1:0",
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!/HTTP on (http:\/\/[0-9.:]+)/.test(seen)) {
    const { value, done } = await lines.read();
    if (done) throw new Error(`serve ended early:\n${seen}`);
    seen += value;
  }
  // Keep draining stdout so the gateway never blocks on a full pipe.
  const drained = (async () => {
    while (!(await lines.read()).done);
  })();
  return { child, url: seen.match(/HTTP on (http:\/\/[0-9.:]+)/)![1], drained };
}
