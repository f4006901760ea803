/**
 * The dashboard's browser tests (`dashboard_browser.ts`, a single home, and
 * `households_browser.ts`, a building), run in a child `deno test` with every
 * permission: playwright-core needs the home directory, the OS release and `/proc/sys`, which the
 * suite does not grant (and should not, to everything else). Its output, with the measured
 * first-load bytes and time to the first live value, appears inline.
 *
 * @module
 */

import assert from "node:assert/strict";

const BROWSER_TESTS = ["./dashboard_browser.ts", "./households_browser.ts"]
  .map((file) => new URL(file, import.meta.url).pathname);
const REPO = new URL("../../", import.meta.url);

Deno.test("the dashboard works in headless Chromium (see the *_browser.ts files)", async () => {
  const child = await new Deno.Command(Deno.execPath(), {
    args: ["test", "--allow-all", "--no-prompt", ...BROWSER_TESTS],
    cwd: REPO.pathname,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  assert.equal(child.code, 0, "the browser test failed (its output is above)");
});
