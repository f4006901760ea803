/**
 * `openseg ports`: lists serial ports with their USB identity and marks Rainforest radios.
 *
 * @module
 */

import { listSerialPorts, type SerialPortInfo } from "../../ffi/libserialport.ts";
import { formatHelp, parseCommand } from "../config/options.ts";

const portsOptions = {
  json: { flag: "json", type: "boolean", description: "print JSON instead of a table" },
} as const;

/** USB identities of the radios this gateway speaks to. */
export const knownRadios: { vid: number; pid: number; radio: string }[] = [
  { vid: 0x0403, pid: 0x8a28, radio: "RAVEn (RFA-Z106)" },
  { vid: 0x04b4, pid: 0x0003, radio: "EMU-2 (RFA-Z105-2)" },
];

/** The radio model a port's USB VID:PID identifies, or null. */
export function identifyRadio(port: SerialPortInfo): string | null {
  const match = knownRadios.find((r) => r.vid === port.usbVid && r.pid === port.usbPid);
  return match?.radio ?? null;
}

function hex4(value: number | null): string {
  return value === null ? "----" : value.toString(16).padStart(4, "0");
}

export function runPorts(args: string[]): Promise<number> {
  const { values, help } = parseCommand(portsOptions, args);
  if (help) {
    console.log(formatHelp("openseg ports [--json]", "List serial ports.", portsOptions));
    return Promise.resolve(0);
  }
  const ports = listSerialPorts();
  if (values.json) {
    console.log(JSON.stringify(ports.map((p) => ({ ...p, radio: identifyRadio(p) })), null, 2));
    return Promise.resolve(0);
  }
  if (ports.length === 0) {
    console.log("no serial ports found");
    return Promise.resolve(0);
  }
  for (const port of ports) {
    const radio = identifyRadio(port);
    const usb = port.transport === "usb" ? `${hex4(port.usbVid)}:${hex4(port.usbPid)}` : "";
    const who = [port.manufacturer, port.product, port.serialNumber].filter(Boolean).join(" ");
    console.log(
      [
        port.name.padEnd(24),
        port.transport.padEnd(9),
        usb.padEnd(10),
        radio ? `* ${radio}` : "",
        who || port.description || "",
      ]
        .filter((s) => s.trim() !== "").join("  "),
    );
  }
  return Promise.resolve(0);
}
