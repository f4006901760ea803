/**
 * Where the gateway's radios come from: real serial devices opened by name through libserialport,
 * simulated meters on pseudo-terminals, or a capture replayed on a pseudo-terminal. Each source
 * yields ports the link supervisor opens the same way — simulated ones through the real FFI path
 * with an adopted file descriptor, since libserialport cannot open a pseudo-terminal by name.
 *
 * @module
 */

import { PseudoTerminal } from "../ffi/libc.ts";
import { SerialPort } from "../ffi/libserialport.ts";
import type { ServeSource } from "./config.ts";
import type { RadioAdapterFactory } from "./radio/adapter.ts";
import type { ByteTransport } from "./radio/transport.ts";
import { startSimulatedMeter } from "./sim/device.ts";
import { createHousehold } from "./sim/household.ts";
import { replayCapture } from "./sim/replay.ts";

/** One radio port the gateway supervises. */
export interface PortSource {
  /** Name in logs and the store: the device path, or `sim:N` / `replay:FILE`. */
  port: string;
  open: () => ByteTransport;
  /** The radio's device adapter; absent means RAVEn / EMU-2, what every source here plays. */
  createAdapter?: RadioAdapterFactory;
  /** Stops whatever plays the device (simulator, replay); absent for real hardware. */
  stop?: () => Promise<void>;
}

/** MAC addresses of simulated meter `index`: stable, so restarts continue the same meter. */
export function simulatedMacs(index: number): { deviceMac: string; meterMac: string } {
  const suffix = (0x1000 + index).toString(16).padStart(6, "0");
  return { deviceMac: `0xd8d5b90000${suffix}`, meterMac: `0x0013500100${suffix}` };
}

/** Opens the ports a `serve` source describes. */
export async function openSources(source: ServeSource): Promise<PortSource[]> {
  switch (source.kind) {
    case "serial":
      return source.paths.map((path) => ({ port: path, open: () => SerialPort.open(path) }));
    case "simulate":
      return Array.from({ length: source.meters }, (_, index) => simulatedPort(index, source));
    case "replay":
      return [await replayPort(source.file)];
  }
}

function adoptSlave(pty: PseudoTerminal): () => ByteTransport {
  return () => SerialPort.adoptFd(pty.openSlaveFd(), pty.slavePath);
}

function simulatedPort(
  index: number,
  options: { speed: number; solar: boolean; backfillHours: number },
): PortSource {
  const pty = PseudoTerminal.open();
  const meter = startSimulatedMeter({
    transport: pty,
    ...simulatedMacs(index),
    household: createHousehold({ seed: index + 1, solar: options.solar || index % 2 === 1 }),
    speed: options.speed,
    backfillMs: options.backfillHours * 3_600_000,
    // Real sticks sometimes emit junk between fragments; the gateway must shrug it off.
    junkProbability: 0.01,
  });
  return {
    port: `sim:${index}`,
    open: adoptSlave(pty),
    // Close the pty first: it ends a device write stuck on a full buffer that nobody reads.
    stop: async () => {
      await pty.close();
      await meter.stop();
    },
  };
}

async function replayPort(file: string): Promise<PortSource> {
  const bytes = await Deno.readFile(file);
  const pty = PseudoTerminal.open();
  const abort = new AbortController();
  let replay: Promise<void> | null = null;
  return {
    port: `replay:${file}`,
    open: () => {
      const transport = adoptSlave(pty)();
      // Start once the gateway side is open, so no byte is written before anyone reads.
      replay ??= replayCapture({ transport: pty, bytes, signal: abort.signal }).catch(() => {});
      return transport;
    },
    stop: async () => {
      abort.abort();
      await replay;
      await pty.close();
    },
  };
}
