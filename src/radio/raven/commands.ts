/**
 * RAVEn/EMU-2 commands both ways: {@link RadioCommand} → `<Command>` XML bytes for the radio, and
 * `<Command>` XML → {@link RadioCommand} for the simulated meter that answers them.
 *
 * Commands are written in ASCII, one element per line with CR LF (harmless to the device, and
 * what terminal users of the EMU-2 send); numbers are `0x` hex as the manual specifies and
 * `EndTime` is seconds since 2000-01-01 UTC.
 *
 * @module
 */

import {
  type RadioCommand,
  type RadioCommandName,
  SCHEDULE_EVENTS,
  type ScheduleEventName,
} from "../commands.ts";
import { parseFragmentXml } from "./scan.ts";
import { ZIGBEE_EPOCH_OFFSET_S } from "./fields.ts";

/** Wire `Name` of every command. */
const WIRE_NAMES: Readonly<Record<RadioCommandName, string>> = {
  initialize: "initialize",
  restart: "restart",
  getConnectionStatus: "get_connection_status",
  getDeviceInfo: "get_device_info",
  getMeterList: "get_meter_list",
  getMeterInfo: "get_meter_info",
  getNetworkInfo: "get_network_info",
  getSchedule: "get_schedule",
  setSchedule: "set_schedule",
  getTime: "get_time",
  getMessage: "get_message",
  confirmMessage: "confirm_message",
  getCurrentPrice: "get_current_price",
  setCurrentPrice: "set_current_price",
  getInstantaneousDemand: "get_instantaneous_demand",
  getCurrentSummationDelivered: "get_current_summation_delivered",
  getCurrentPeriodUsage: "get_current_period_usage",
  getLastPeriodUsage: "get_last_period_usage",
  closeCurrentPeriod: "close_current_period",
  setFastPoll: "set_fast_poll",
  getProfileData: "get_profile_data",
};

const BY_WIRE_NAME = new Map(
  Object.entries(WIRE_NAMES).map(([name, wire]) => [wire, name as RadioCommandName]),
);

const SCHEDULE_EVENT_NAMES: ReadonlySet<string> = new Set(SCHEDULE_EVENTS);

const HEX_ID = /^0[xX][0-9a-fA-F]{1,32}$/;
const ASCII = new TextEncoder();

function hexId(value: string, what: string): string {
  if (!HEX_ID.test(value)) throw new RangeError(`${what} must be 0x-prefixed hex, got "${value}"`);
  return value;
}

/** `0x` + zero-padded hex of a non-negative integer that fits in `digits` hex digits. */
function hex(value: number, digits: number, what: string): string {
  if (!Number.isInteger(value) || value < 0 || value >= 16 ** digits) {
    throw new RangeError(`${what} must be an integer in 0…0x${"f".repeat(digits)}, got ${value}`);
  }
  return "0x" + value.toString(16).padStart(digits, "0");
}

function yn(value: boolean): string {
  return value ? "Y" : "N";
}

/** ZigBee time of a Unix-ms instant; 0 stays 0 ("latest" for `get_profile_data`). */
function zigbeeSeconds(endTimeMs: number): string {
  if (endTimeMs === 0) return hex(0, 8, "endTimeMs");
  return hex(Math.floor(endTimeMs / 1000) - ZIGBEE_EPOCH_OFFSET_S, 8, "endTimeMs (since 2000)");
}

/** Parameters after `Name`, in the order the manual lists them. */
function parameters(command: RadioCommand): [string, string][] {
  const params: [string, string][] = [];
  if ("meter" in command && command.meter !== undefined) {
    params.push(["MeterMacId", hexId(command.meter, "meter")]);
  }
  switch (command.name) {
    case "getSchedule":
      if (command.event !== undefined) params.push(["Event", command.event]);
      break;
    case "setSchedule":
      params.push(
        ["Event", command.event],
        ["Frequency", hex(command.frequencyS, 8, "frequencyS")],
        ["Enabled", yn(command.enabled)],
      );
      break;
    case "confirmMessage":
      params.push(["Id", hexId(command.messageId, "messageId")]);
      break;
    case "setCurrentPrice":
      params.push(
        ["Price", hex(command.price, 8, "price")],
        ["TrailingDigits", hex(command.trailingDigits, 2, "trailingDigits")],
      );
      break;
    case "setFastPoll":
      params.push(
        ["Frequency", hex(command.frequencyS, 4, "frequencyS")],
        ["Duration", hex(command.durationS, 4, "durationS")],
      );
      break;
    case "getProfileData":
      params.push(["NumberOfPeriods", hex(command.numberOfPeriods, 2, "numberOfPeriods")]);
      if (command.endTimeMs !== undefined) {
        params.push(["EndTime", zigbeeSeconds(command.endTimeMs)]);
      }
      params.push(["IntervalChannel", command.channel]);
      break;
  }
  if ("refresh" in command && command.refresh !== undefined) {
    params.push(["Refresh", yn(command.refresh)]);
  }
  return params;
}

/**
 * Encodes a command as the radio expects it. Throws a RangeError for a value that cannot be
 * written (a non-hex MAC, a negative or oversized number) rather than send something garbled.
 */
export function encodeCommand(command: RadioCommand): Uint8Array {
  let xml = `<Command>\r\n  <Name>${WIRE_NAMES[command.name]}</Name>\r\n`;
  for (const [name, value] of parameters(command)) xml += `  <${name}>${value}</${name}>\r\n`;
  return ASCII.encode(xml + "</Command>\r\n");
}

// ---------------------------------------------------------------------------------------------
// Parsing (the device side)

const HEX_NUMBER = /^0[xX][0-9a-fA-F]{1,8}$/;

/** Parameter texts by lower-case element name (first occurrence wins). */
type Params = Map<string, string>;

function parseHexParam(params: Params, name: string): number | null {
  const text = params.get(name);
  return text !== undefined && HEX_NUMBER.test(text) ? parseInt(text.slice(2), 16) : null;
}

function parseYn(text: string | undefined): boolean | null {
  const u = text?.toUpperCase();
  return u === "Y" ? true : u === "N" ? false : null;
}

/** Adds `meter` (and `refresh`) when present; false when present but garbled. */
function withMeter(params: Params, target: { meter?: string }): boolean {
  const meter = params.get("metermacid");
  if (meter === undefined) return true;
  if (!HEX_ID.test(meter)) return false;
  target.meter = meter;
  return true;
}

function withRefresh(params: Params, target: { refresh?: boolean }): boolean {
  const text = params.get("refresh");
  if (text === undefined) return true;
  const refresh = parseYn(text);
  if (refresh === null) return false;
  target.refresh = refresh;
  return true;
}

function scheduleEvent(params: Params): ScheduleEventName | null | undefined {
  const text = params.get("event");
  if (text === undefined) return undefined;
  const event = text.toLowerCase();
  return SCHEDULE_EVENT_NAMES.has(event) ? event as ScheduleEventName : null;
}

function build(name: RadioCommandName, params: Params): RadioCommand | null {
  switch (name) {
    case "initialize":
    case "restart":
    case "getConnectionStatus":
    case "getDeviceInfo":
    case "getMeterList":
    case "getNetworkInfo":
      return { name };
    case "getMeterInfo":
    case "getCurrentPeriodUsage":
    case "getLastPeriodUsage":
    case "closeCurrentPeriod": {
      const command: { name: typeof name; meter?: string } = { name };
      return withMeter(params, command) ? command : null;
    }
    case "getTime":
    case "getMessage":
    case "getCurrentPrice":
    case "getInstantaneousDemand":
    case "getCurrentSummationDelivered": {
      const command: { name: typeof name; meter?: string; refresh?: boolean } = { name };
      return withMeter(params, command) && withRefresh(params, command) ? command : null;
    }
    case "getSchedule": {
      const command: RadioCommand = { name };
      const event = scheduleEvent(params);
      if (event === null || !withMeter(params, command)) return null;
      if (event !== undefined) command.event = event;
      return command;
    }
    case "setSchedule": {
      const event = scheduleEvent(params);
      const frequencyS = parseHexParam(params, "frequency");
      const enabled = parseYn(params.get("enabled"));
      if (!event || frequencyS === null || enabled === null) return null;
      const command: RadioCommand = { name, event, frequencyS, enabled };
      return withMeter(params, command) ? command : null;
    }
    case "confirmMessage": {
      const messageId = params.get("id");
      if (messageId === undefined || !HEX_ID.test(messageId)) return null;
      const command: RadioCommand = { name, messageId };
      return withMeter(params, command) ? command : null;
    }
    case "setCurrentPrice": {
      const price = parseHexParam(params, "price");
      const trailingDigits = parseHexParam(params, "trailingdigits");
      if (price === null || trailingDigits === null) return null;
      const command: RadioCommand = { name, price, trailingDigits };
      return withMeter(params, command) ? command : null;
    }
    case "setFastPoll": {
      const frequencyS = parseHexParam(params, "frequency");
      const durationS = parseHexParam(params, "duration");
      if (frequencyS === null || durationS === null) return null;
      const command: RadioCommand = { name, frequencyS, durationS };
      return withMeter(params, command) ? command : null;
    }
    case "getProfileData": {
      const numberOfPeriods = parseHexParam(params, "numberofperiods");
      const channelText = params.get("intervalchannel")?.toLowerCase();
      const channel = channelText === "delivered"
        ? "Delivered"
        : channelText === "received"
        ? "Received"
        : null;
      if (numberOfPeriods === null || channel === null) return null;
      const command: RadioCommand = { name, numberOfPeriods, channel };
      if (params.has("endtime")) {
        const seconds = parseHexParam(params, "endtime");
        if (seconds === null) return null;
        command.endTimeMs = seconds === 0 ? 0 : (seconds + ZIGBEE_EPOCH_OFFSET_S) * 1000;
      }
      return withMeter(params, command) ? command : null;
    }
  }
}

/**
 * Parses a `<Command>` fragment (names case-insensitive). Returns null for anything that is not a
 * well-formed command with a known `Name` and valid parameters.
 */
export function parseCommand(xml: string): RadioCommand | null {
  const parsed = parseFragmentXml(xml);
  if (!parsed.ok || parsed.root.toLowerCase() !== "command") return null;
  const params: Params = new Map();
  for (let k = 0; k < parsed.names.length; k++) {
    const key = parsed.names[k].toLowerCase();
    if (!params.has(key)) params.set(key, parsed.texts[k]);
  }
  const name = BY_WIRE_NAME.get(params.get("name")?.toLowerCase() ?? "");
  return name === undefined ? null : build(name, params);
}
