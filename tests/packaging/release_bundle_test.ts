/**
 * The release bundle as `packaging/bundle.sh` builds it for the binary: ASCII-only, so V8 holds
 * its source one byte a character; without fast-json-stringify, ajv and fast-uri, which graphql-jit
 * loads but openseg never calls; with a source map that names repository files. Run from an empty
 * directory it sets the owner's password, serves the sign-in, and answers a GraphQL document twice
 * with different variables (the second run is compiled by graphql-jit; a query that would not
 * compile falls back to graphql-js), both runs agreeing on the readings the simulated meter stored.
 *
 * @module
 */

import assert from "node:assert/strict";
import { loadLoginForm } from "../auth/login_form.ts";
import { GATEWAY_RUN_ARGS, startGateway } from "../e2e/helpers.ts";
import { buildReleaseBundle } from "./release_bundle.ts";

const PASSWORD = "a release bundle passphrase";
const INTERVALS = `query Intervals($from: DateTime!, $to: DateTime!) {
  meters { id intervals(from: $from, to: $to) { start deliveredWh } }
}`;

Deno.test("release bundle: ASCII-only, no unused serializer, repository source map; answers a GraphQL document run twice", async () => {
  const dir = await Deno.makeTempDir({ prefix: "openseg-release-bundle-" });
  try {
    const bundle = await buildReleaseBundle(dir);
    const bytes = await Deno.readFile(bundle);
    assert.equal(bytes.findIndex((byte) => byte > 0x7f), -1, "a character outside ASCII");

    const sources: string[] = JSON.parse(await Deno.readTextFile(`${bundle}.map`)).sources;
    assert.ok(sources.includes("main.ts") && sources.includes("src/graphql/jit.ts"));
    assert.ok(sources.some((source) => source.startsWith("node_modules/graphql-jit/")));
    assert.ok(
      new TextDecoder().decode(bytes).includes("is not in the openseg release bundle"),
      "the fast-json-stringify stub stands in",
    );
    for (const source of sources) {
      // Ours by their paths in the repository; npm's under node_modules/ (graphql-jit's map its
      // own TypeScript, which npm does not ship).
      if (!source.startsWith("node_modules/")) {
        Deno.statSync(new URL(`../../${source}`, import.meta.url));
      }
      assert.doesNotMatch(source, /^node_modules\/(ajv|fast-uri|fast-json-stringify\/lib)\//);
    }

    const run = `${dir}/run`;
    await Deno.mkdir(run);
    const setPassword = new Deno.Command(Deno.execPath(), {
      cwd: run,
      args: [...GATEWAY_RUN_ARGS, "--no-config", bundle, "admin", "set-password", "--db", "g.db"],
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const writer = setPassword.stdin.getWriter();
    await writer.write(new TextEncoder().encode(`${PASSWORD}\n`));
    await writer.close();
    const setPasswordResult = await setPassword.output();
    assert.ok(setPasswordResult.success, new TextDecoder().decode(setPasswordResult.stderr));

    const gateway = await startGateway(
      ["--simulate", "--backfill-hours", "2", "--db", "g.db"],
      { bundle, cwd: run },
    );
    try {
      const form = await loadLoginForm(gateway.url);
      const login = await fetch(`${gateway.url}/owner/login`, {
        method: "POST",
        redirect: "manual",
        headers: form.headers,
        body: form.withPassword(PASSWORD),
      });
      await login.body?.cancel();
      assert.equal(login.status, 303);
      const cookie = login.headers.get("set-cookie")!.split(";")[0];
      const query = async (from: Date, to: Date) => {
        const response = await fetch(`${gateway.url}/graphql`, {
          method: "POST",
          headers: { "Content-Type": "application/json", Cookie: cookie, Origin: gateway.url },
          body: JSON.stringify({
            query: INTERVALS,
            variables: { from: from.toISOString(), to: to.toISOString() },
          }),
        });
        assert.equal(response.status, 200);
        const answer = await response.json();
        assert.equal(answer.errors, undefined, JSON.stringify(answer.errors));
        return answer.data.meters[0].intervals as { start: string; deliveredWh: number }[];
      };
      const nowMs = Date.now();
      // Backfilled intervals are stored at once; a query run twice with different variables is
      // executed twice (no cached answer), the second time by graphql-jit.
      let lastHour: { start: string; deliveredWh: number }[] = [];
      for (let tries = 0; lastHour.length === 0 && tries < 100; tries++) {
        lastHour = await query(new Date(nowMs - 3_600_000), new Date(nowMs));
        if (lastHour.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.ok(lastHour.length > 0, "intervals of the last hour");
      const firstHalf = await query(new Date(nowMs - 3_600_000), new Date(nowMs - 1_800_000));
      assert.deepEqual(
        firstHalf,
        lastHour.filter((reading) => Date.parse(reading.start) < nowMs - 1_800_000),
      );
    } finally {
      gateway.child.kill("SIGTERM");
      await gateway.child.status;
      await gateway.drained;
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
