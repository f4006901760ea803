/**
 * The radio layer knows no radio type: the files of `src/radio/` (transport, events, supervisor,
 * gap repair) import nothing from a device folder such as `src/radio/raven/`, so a second radio
 * type is one new folder and the caller picks the adapter.
 *
 * @module
 */

import assert from "node:assert/strict";
import { dirname, join, normalize, relative } from "node:path";

const RADIO = normalize(
  join(dirname(new URL(import.meta.url).pathname), "..", "..", "src", "radio"),
);
const IMPORT = /(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g;

Deno.test("src/radio/*.ts imports no device folder (raven/ or another radio type)", async () => {
  const devices: string[] = [];
  const intoDevice: string[] = [];
  for await (const entry of Deno.readDir(RADIO)) {
    if (entry.isDirectory) devices.push(entry.name);
    if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
    for (const match of (await Deno.readTextFile(join(RADIO, entry.name))).matchAll(IMPORT)) {
      const target = relative(RADIO, normalize(join(RADIO, match[1])));
      if (target.includes("/") && !target.startsWith("..")) {
        intoDevice.push(`${entry.name} -> ${target}`);
      }
    }
  }
  assert.ok(devices.includes("raven"), "the RAVEn device folder was found");
  assert.deepEqual(intoDevice, []);
});
