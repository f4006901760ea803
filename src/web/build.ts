/**
 * Builds the dashboard's assets into `dist/web/`: `deno bundle` type-checks and minifies the
 * browser entries into `app.js` (the page) and `live.js` (the shared live worker), and the page shell, stylesheet and icon are copied next to it. The
 * committed sources stay the only source of truth; `dist/` is generated (and git-ignored), by the
 * `start`, `demo` and `compile` tasks and by the browser test, and `deno compile --include
 * dist/web` embeds it. Run directly: `deno run -A src/web/build.ts`.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { WEB_ASSETS_URL } from "../app/static.ts";

/** Browser entries and the bundles they become: the page's script and the shared live worker. */
const ENTRIES: Readonly<Record<string, URL>> = {
  "app.js": new URL("./main.ts", import.meta.url),
  "live.js": new URL("./live_worker.ts", import.meta.url),
};
/** Copied as they are. */
const STATIC_FILES = ["index.html", "signin.html", "style.css", "icon.svg"] as const;
/** `style.css` is served as `app.css`, next to `app.js`. */
const RENAMED: Readonly<Record<string, string>> = { "style.css": "app.css" };

/** Bundles and copies every asset into `outDir`; throws with the bundler's output on failure. */
export async function buildWebAssets(outDir: URL = WEB_ASSETS_URL): Promise<void> {
  await Deno.mkdir(outDir, { recursive: true });
  for (const [bundle, entry] of Object.entries(ENTRIES)) {
    await bundleEntry(entry, new URL(bundle, outDir));
  }
  for (const name of STATIC_FILES) {
    await Deno.copyFile(new URL(name, import.meta.url), new URL(RENAMED[name] ?? name, outDir));
  }
}

/** `deno bundle` of one entry; throws with the bundler's output on failure. */
async function bundleEntry(entry: URL, output: URL): Promise<void> {
  // The Deno running this build: the project's npm-installed one under the tasks.
  const result = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--check",
      "--platform",
      "browser",
      "--minify",
      "--output",
      fileURLToPath(output),
      fileURLToPath(entry),
    ],
    cwd: fileURLToPath(new URL("../../", import.meta.url)),
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!result.success) {
    const decoder = new TextDecoder();
    throw new Error(
      `deno bundle failed:\n${decoder.decode(result.stdout)}${decoder.decode(result.stderr)}`,
    );
  }
}

if (import.meta.main) {
  await buildWebAssets();
  console.log(`dashboard assets built in ${fileURLToPath(WEB_ASSETS_URL)}`);
}
