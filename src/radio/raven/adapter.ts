/**
 * RAVEn / EMU-2 device adapter: transport bytes → framing → decoder → typed events, and typed
 * commands → XML on the wire. Both stick families speak the same fragment protocol.
 *
 * @module
 */

import type { RadioAdapter, RadioReadResult, RadioStats } from "../adapter.ts";
import type { RadioCommand } from "../commands.ts";
import { FragmentSplitter } from "./framing.ts";
import type { ByteTransport } from "../transport.ts";
import { encodeCommand } from "./commands.ts";
import { decodeMatched, decodeText, matchFragment } from "./decode.ts";
import { ProfileScaler } from "./profile_scale.ts";

/** Wraps an open transport to a RAVEn or EMU-2 stick. */
export function createRavenAdapter(transport: ByteTransport): RadioAdapter {
  const splitter = new FragmentSplitter();
  const scaler = new ProfileScaler();
  const stats: RadioStats = {
    bytesRead: 0,
    fragments: 0,
    decodeErrors: 0,
    fieldWarnings: 0,
    unknownFragments: 0,
    droppedBytes: 0,
    overflows: 0,
  };
  return {
    kind: "raven",
    name: transport.name,
    stats,
    async read(waitMs: number): Promise<RadioReadResult | null> {
      const bytes = await transport.read(waitMs);
      if (bytes === null) return null;
      stats.bytesRead += bytes.length;
      const result = decodeChunk(splitter, bytes, stats, scaler);
      stats.droppedBytes = splitter.stats.droppedBytes;
      stats.overflows = splitter.stats.overflows;
      return result;
    },
    send: (command: RadioCommand) => transport.write(encodeCommand(command)),
    close: () => transport.close(),
  };
}

/**
 * Frames and decodes one chunk of bytes, updating the counters; `scaler` carries each meter's
 * summation scaling from fragment to fragment, for its ProfileData.
 */
export function decodeChunk(
  splitter: FragmentSplitter,
  bytes: Uint8Array,
  stats: RadioStats,
  scaler: ProfileScaler,
): RadioReadResult {
  const result: RadioReadResult = { events: [], errors: [], warnings: [] };
  if (bytes.length === 0) return result;
  splitter.pushEach(bytes, (fragment, matched) => {
    stats.fragments++;
    const decoded = matched ? decodeMatched(fragment) : decodeText(fragment);
    if (!decoded.ok) {
      stats.decodeErrors++;
      result.errors.push(decoded.error);
      return;
    }
    const event = decoded.event;
    if (event.kind === "unknown") stats.unknownFragments++;
    if (decoded.scale !== undefined) scaler.noteSummation(event.meter, decoded.scale);
    if (event.kind === "profile") scaler.scale(event, decoded.warnings);
    if (decoded.warnings.length > 0) {
      stats.fieldWarnings += decoded.warnings.length;
      result.warnings.push(...decoded.warnings);
    }
    result.events.push(event);
  }, matchFragment);
  return result;
}
