/**
 * `openseg serve` (the same `runServe` as `main.ts serve`, with the arguments given) whose one
 * radio this process plays as a simulated meter on a pseudo-terminal, so a test can pull the stick
 * in the middle of a whole serve run: each SIGUSR2 unplugs it (the master closes and the kernel
 * hangs up the gateway's side, as on a USB unplug) or plugs a new one in. (Not SIGUSR1: Deno, like
 * Node, opens its debugger on it.) This process prints nothing of its own: every line on stdout
 * and stderr is the gateway's.
 *
 * Usage: `deno run ... tests/cli/serve_with_radio.ts PORT_NAME [serve options]`.
 *
 * @module
 */

import { PseudoTerminal } from "../../ffi/libc.ts";
import { SerialPort } from "../../ffi/libserialport.ts";
import { runServe } from "../../src/cli/serve.ts";
import { type SimulatedMeter, startSimulatedMeter } from "../../src/sim/device.ts";
import { createHousehold } from "../../src/sim/household.ts";
import { simulatedMacs } from "../../src/sources.ts";

const [port, ...serveArgs] = Deno.args;

interface Plugged {
  pty: PseudoTerminal;
  meter: SimulatedMeter;
}

let plugged: Plugged | null = null;

function plug(): void {
  if (plugged !== null) return;
  const pty = PseudoTerminal.open();
  const meter = startSimulatedMeter({
    transport: pty,
    ...simulatedMacs(0),
    household: createHousehold({ seed: 1, solar: false }),
    speed: 60,
  });
  plugged = { pty, meter };
}

async function unplug(): Promise<void> {
  if (plugged === null) return;
  const { pty, meter } = plugged;
  plugged = null;
  // The pty first: it ends a device write stuck on a full buffer that nobody reads.
  await pty.close();
  await meter.stop();
}

plug();
Deno.addSignalListener("SIGUSR2", () => plugged === null ? plug() : void unplug());
await runServe(serveArgs, {
  ports: [{
    port,
    open: () => {
      if (plugged === null) throw new Error("no such device (unplugged)");
      return SerialPort.adoptFd(plugged.pty.openSlaveFd(), plugged.pty.slavePath);
    },
    stop: unplug,
  }],
});
// The signal listeners would keep the process alive after serve returned.
Deno.exit(0);
